#!/bin/sh
# The worker: takes jobs from the store's queue and finishes them.
echo "worker: polling the store's queue"
while true; do
    id=$(timeout 5 wget -qO- http://store:8080/cgi-bin/take 2>/dev/null)
    if [ -n "$id" ]; then
        echo "worker: shipping order $id"
        timeout 5 wget -qO- "http://store:8080/cgi-bin/finish?id=$id&by=$(hostname)" >/dev/null 2>&1
    else
        sleep 0.2
    fi
done
