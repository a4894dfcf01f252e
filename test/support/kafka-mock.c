/*
 * Tiny launcher for librdkafka's in-process mock Kafka cluster (test only).
 *
 *   kafka-mock [BROKERS] [TOPIC:PARTITIONS ...]
 *
 * BROKERS defaults to 1. Each TOPIC:PARTITIONS is pre-created with
 * rd_kafka_mock_topic_create (other topics are auto-created on first
 * Metadata request with 4 partitions). Prints the bootstrap servers on one
 * line to stdout, then blocks until stdin reaches EOF or SIGTERM/SIGINT
 * arrives (or the parent dies), and destroys the cluster.
 *
 * Build: gcc -O2 -o kafka-mock kafka-mock.c -lrdkafka
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
        char errstr[512], buf[256];
        int brokers = 1, i = 1;
        struct sigaction sa;

        if (argc > 1 && argv[1][strspn(argv[1], "0123456789")] == '\0')
                brokers = atoi(argv[i++]);
        if (brokers < 1) brokers = 1;

        memset(&sa, 0, sizeof(sa)); /* no SA_RESTART: read() gets EINTR */
        sa.sa_handler = on_signal;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) { fprintf(stderr, "rd_kafka_new: %s\n", errstr); return 1; }
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mc) { fprintf(stderr, "rd_kafka_mock_cluster_new failed\n"); return 1; }

        for (; i < argc; i++) {
                char name[256];
                const char *colon = strrchr(argv[i], ':');
                int parts = colon ? atoi(colon + 1) : 4;
                size_t n = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
                if (n == 0 || n >= sizeof(name) || parts < 1) {
                        fprintf(stderr, "bad topic spec: %s\n", argv[i]);
                        return 2;
                }
                memcpy(name, argv[i], n);
                name[n] = '\0';
                rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
                    mc, name, parts, brokers < 3 ? brokers : 3);
                if (err) {
                        fprintf(stderr, "topic %s: %s\n", name, rd_kafka_err2str(err));
                        return 2;
                }
        }

        printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);

        while (!stop) {
                ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
                if (r == 0 || (r < 0 && errno != EINTR)) break;
        }

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 0;
}
