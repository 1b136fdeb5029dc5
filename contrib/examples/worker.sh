#!/bin/sh
# worker.sh: the Node watchdog pattern. The worker takes what work there is,
# prints a line per job, and exits 0 when the queue is empty. tend runs it
# again after restart_delay (2s); clean exits never trip the breaker.
set -eu

jobs=$(( ($$ % 3) + 1 ))   # a different amount of "work" each run
i=1
while [ "$i" -le "$jobs" ]; do
    # Each job fetches the index page of `web`: depends_on {"web": "ready"}
    # means tend started this worker only once that page answered.
    bytes=$(python3 -c 'import urllib.request as u; print(len(u.urlopen("http://127.0.0.1:8765/", timeout=5).read()))')
    echo "job $i/$jobs: fetched $bytes bytes from web"
    sleep 1
    i=$((i + 1))
done
echo "queue empty, exiting 0 (tend runs me again in 2s)"
exit 0
