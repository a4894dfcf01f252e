import { Kafka, logLevel, Partitioners } from 'kafkajs';
console.log(typeof Kafka, logLevel.ERROR, typeof Partitioners.DefaultPartitioner);
