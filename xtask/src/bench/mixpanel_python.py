"""Times the official Mixpanel Python SDK's alias() against the local reference server.

Usage: python mixpanel_python.py SERVER_URL TOKEN CSV COUNT
Prints the seconds the COUNT alias() calls took, alone on the last line.

The one patch: mixpanel-python's Mixpanel.alias() ignores the consumer it was given and
sends through a fresh default Consumer(), whose events URL is always
https://api.mixpanel.com/track (mixpanel-python#101). The module's Consumer is replaced by
a subclass whose default events_url is SERVER_URL/track (plain http on loopback).
Everything else is the SDK's own code path, unchanged: per call a new Consumer and
requests.Session (so a new connection), the form body data=<JSON>&verbose=1&ip=0, and the
check of the JSON answer. (The SDK mounts its retrying adapter on https:// only, so plain
http is sent without retries: the reference server runs without faults here.)
"""

import csv
import itertools
import sys
import time

import mixpanel


def main():
    url, token, path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(path, newline="") as rows:
        first = itertools.islice(csv.DictReader(rows), count)
        links = [(row["distinct_id"], row["alias"]) for row in first]
    if len(links) < count:
        sys.exit(f"{path} has {len(links)} rows, fewer than the {count} asked for")

    sdk_consumer = mixpanel.Consumer

    class LoopbackConsumer(sdk_consumer):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("events_url", url + "/track")
            super().__init__(*args, **kwargs)

    mixpanel.Consumer = LoopbackConsumer
    client = mixpanel.Mixpanel(token)
    started = time.perf_counter()
    for distinct_id, alias in links:
        client.alias(alias, distinct_id)
    print(time.perf_counter() - started)


if __name__ == "__main__":
    main()
