#!/bin/sh
# flaky.sh: a process that crashes at start, to show tend's backoff and its
# crash-loop breaker. Restart delays grow 1s, 2s, 4s, 8s, 16s; the exit that
# would need a 6th restart within 1m opens the breaker (state `failed`,
# event `breaker_open`); 30s later one start is tried again.
#
# To see it recover: `touch contrib/examples/flaky.conf`, then
# `tend reset flaky` (or wait for the cooldown).
echo "flaky: starting (pid $$)"
if [ ! -f ./flaky.conf ]; then
    echo "flaky: cannot open ./flaky.conf: no such file, exiting 1" >&2
    exit 1
fi
echo "flaky: found ./flaky.conf, running"
while :; do
    sleep 5
    echo "flaky: still fine"
done
