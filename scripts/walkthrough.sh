#!/usr/bin/env bash
# One whole ride through the HTTP API with curl and jq, as in the README's walk-through.
#   RIDECAST_URL=http://127.0.0.1:3000 ADMIN_PASSWORD=<the admin's> bash scripts/walkthrough.sh
# Start the server without simulated drivers first (they would take the offer):
#   SIMULATE=0 ADMIN_PASSWORD=walk-through-1 npm start
# Safe to run again and again: every run makes its own users and Idempotency-Key, and its driver
# goes offline at the end. Any HTTP error stops the run and is shown as the server sent it.
set -euo pipefail
B=${RIDECAST_URL:-http://127.0.0.1:3000}
RUN=$(date +%s)-$RANDOM

# call METHOD PATH [TOKEN] [JSON] [curl args...]: prints the JSON answer; an HTTP error is printed and stops the run.
call() {
  local out status
  out=$(curl -sS -X "$1" "$B$2" ${3:+-H "authorization: Bearer $3"} ${4:+-H 'content-type: application/json' -d "$4"} "${@:5}" -w '\n%{http_code}')
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$status" -ge 400 ]; then
    echo "$1 $2 → HTTP $status $out" >&2
    exit 1
  fi
  echo "$out"
}

ADMIN=$(call POST /v1/auth/login '' "{\"username\":\"${ADMIN_USERNAME:-admin}\",\"password\":\"${ADMIN_PASSWORD:?set ADMIN_PASSWORD to the admin password printed at start-up}\"}" | jq -r .token)
call POST /v1/users "$ADMIN" "{\"username\":\"ana-$RUN\",\"password\":\"password-123\",\"role\":\"rider\"}" | jq -c .
call POST /v1/users "$ADMIN" "{\"username\":\"dan-$RUN\",\"password\":\"password-123\",\"role\":\"driver\"}" | jq -c .
RIDER=$(call POST /v1/auth/login '' "{\"username\":\"ana-$RUN\",\"password\":\"password-123\"}" | jq -r .token)
DRIVER=$(call POST /v1/auth/login '' "{\"username\":\"dan-$RUN\",\"password\":\"password-123\"}" | jq -r .token)

# The driver goes online and reports where they are.
call PUT /v1/drivers/me/availability "$DRIVER" '{"available":true}' | jq -c .
call POST /v1/drivers/me/locations "$DRIVER" "{\"lat\":38.7230,\"lng\":-9.1400,\"recordedAt\":$(date +%s%3N)}" | jq -c .

# The rider asks for a ride → 202 {rideId, status: "requested"}; the same key again would give the same ride.
RIDE=$(call POST /v1/rides "$RIDER" '{"pickup":{"lat":38.7223,"lng":-9.1393},"dropoff":{"lat":38.7369,"lng":-9.1427}}' \
  -H "Idempotency-Key: ride-$RUN" | jq -r .rideId)
echo "ride $RIDE requested"
# Matching is asynchronous: wait for the offer to reach our driver.
for _ in $(seq 50); do
  status=$(call GET "/v1/rides/$RIDE" "$DRIVER" | jq -r .status)
  [ "$status" = offered ] && break
  sleep 0.2
done
echo "ride $RIDE is $status"

for step in accept arrive start complete; do
  call POST "/v1/rides/$RIDE/$step" "$DRIVER" | jq -c '{status, fare, payment}'
done
sleep 1 # the payment is captured just after completion
call GET "/v1/rides/$RIDE" "$RIDER" | jq -c '{status, fare, payment}'   # payment.status: captured
call POST "/v1/rides/$RIDE/rating" "$RIDER" '{"stars":5}' | jq -c '{status, rating}'
# Rating twice is refused: 409 ALREADY_RATED, shown as the server sent it.
curl -sS "$B/v1/rides/$RIDE/rating" -H "authorization: Bearer $RIDER" -H 'content-type: application/json' -d '{"stars":5}' -w '  (HTTP %{http_code})\n'
call PUT /v1/drivers/me/availability "$DRIVER" '{"available":false}' | jq -c .
echo "done: ride $RIDE"
