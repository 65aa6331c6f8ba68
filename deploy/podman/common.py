"""What deploy/podman/run and deploy/podman/kube-play share: the error of a step, the log line,
waiting for a condition, and Mailpit's API."""
import json
import subprocess
import time
import urllib.request


class Failed(Exception):
    """A step that did not do what it should; its text says what."""


def say(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def wait_until(check, seconds, what, every=1.0):
    """check() until it returns something true, which is returned; an error it raises counts as
    not yet. Failed naming `what` and the last answer when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (Failed, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
            last = e
        time.sleep(every)
    raise Failed("%s: not within %ds (last: %s)" % (what, seconds, last))


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def mailpit_messages(api):
    """The messages Mailpit holds (its API at `api`, e.g. http://127.0.0.1:8025), newest first."""
    return json.loads(http_get("%s/api/v1/messages?limit=1000" % api)).get("messages") or []


def mailpit_raw(api, message_id):
    return http_get("%s/api/v1/message/%s/raw" % (api, message_id))
