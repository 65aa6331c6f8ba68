#!/usr/bin/env python3
"""The Open311 gateway through a client nobody here wrote: georeport (PyPI), in JSON and in XML.

Reads the service list and a service definition, posts a service request (georeport only reads,
so the POST is a plain form post as a city app sends it) and its retry, reads it back by id, by
filter and by token, waits until routing has placed it, adds information to it through
FixMyStreet's service request updates, and checks the errors a client sees. When grpcurl and the
intake's address are at hand, the case is also read from the intake itself. georeport has no call
for discovery, tokens or updates: those go through urllib.

    clients_test.py --state-dir BUILD/test-stack/infra
    clients_test.py --base http://127.0.0.1:8311/open311/v2 --api-key dev-open311-key \
        --intake 127.0.0.1:50051

Runs with the Python of the venv tools/setup makes (tests/open311/requirements.txt). What
georeport 0.3.1 does, and what this test adapts to:
  - every call is GET <root>/<resource>.<format> with `jurisdiction_id` as the only parameter it
    adds (when given); output_format 'xml' parses the answer with xmltodict, where one element
    is a dict and several a list;
  - it keeps `api_key` but sends it on no request, and the gateway wants credentials for
    requests and tokens: the test adds the key as a query parameter (as a city app configures its
    HTTP client) and checks that georeport's own request, without it, gets 403;
  - it sets no timeout: the test gives every request one.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from unittest import mock

import georeport
import georeport.georeport
import requests
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HTTP_TIMEOUT = 15
# The Brussels offsets (winter, summer) every time the gateway gives must carry.
BRUSSELS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+0[12]:00$")
SERVICE_CODE = "101"  # street-lighting in deploy/config/categories.yaml
ATTRIBUTES = {"kind", "confidential", "language", "notify", "external_reference"}
OPEN_DETAILED = {"RECEIVED", "IN_PROCESS"}

# Filled by main() from the command line, the environment or the stack's state.
CONFIG = {"base": None, "api_key": None, "intake": None, "grpcurl": None, "wait": 60.0}


def note(msg):
    print("  checked: " + msg, flush=True)


def with_retry_after(send):
    """Calls send() again after a 429 (as a well-behaved client does), at most 5 times."""
    for _ in range(5):
        status, headers, body = send()
        if status != 429:
            return status, headers, body
        time.sleep(min(float(headers.get("Retry-After") or 1), 5.0))
    return status, headers, body


def http(method, path, query=None, form=None, headers=None):
    """One request to the gateway: (status, headers, body bytes), never raising for a status."""
    url = CONFIG["base"] + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = None
    hdrs = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode("utf-8")
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    # No proxy: the gateway is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def send():
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with opener.open(req, timeout=HTTP_TIMEOUT) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    return with_retry_after(send)


class TransportShim:
    """Stands in for the `requests` module inside georeport: adds a timeout, no proxies, a retry
    after 429 and, when given, the api_key that georeport 0.3.1 keeps but never sends."""

    def __init__(self, api_key=None):
        self.api_key = api_key
        self.session = requests.Session()
        self.session.trust_env = False
        self.urls = []

    def get(self, url, params=None, **kwargs):
        params = dict(params or {})
        if self.api_key is not None:
            params["api_key"] = self.api_key
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        self.urls.append(url)
        for _ in range(5):
            resp = self.session.get(url, params=params, **kwargs)
            if resp.status_code != 429:
                return resp
            time.sleep(min(float(resp.headers.get("Retry-After") or 1), 5.0))
        return resp


def client(fmt, with_key=True):
    """A georeport client and the shim its requests go through (patch it in with `using`)."""
    g = georeport.GeoReport(CONFIG["base"], api_key=CONFIG["api_key"], output_format=fmt)
    return g, TransportShim(CONFIG["api_key"] if with_key else None)


def using(shim):
    return mock.patch.object(georeport.georeport, "requests", shim)


def as_list(value):
    """xmltodict gives a dict for one element and a list for several."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def json_errors(body):
    errors = json.loads(body)
    assert isinstance(errors, list) and errors, "errors must be a non-empty array: %r" % errors
    for e in errors:
        assert set(e) >= {"code", "description"}, "an error without code/description: %r" % e
    return errors


def xml_errors(body):
    root = ET.fromstring(body)
    assert root.tag == "errors", "XML errors root is <%s>, not <errors>" % root.tag
    errors = [{"code": e.findtext("code"), "description": e.findtext("description")}
              for e in root.findall("error")]
    assert errors and all(e["code"] and e["description"] for e in errors), body
    return errors


def service_request_form(description, **extra):
    form = {
        "service_code": SERVICE_CODE,
        "lat": "51.0543",
        "long": "3.7174",
        "address_string": "Kerkstraat 1, 9000 Gent",
        "description": description,
        "email": "els.maes@example.org",
        "first_name": "Els",
        "last_name": "Maes",
        "media_url": "https://example.org/pictures/lamp-12.jpg",
        "attribute[kind]": "REPORT",
        "api_key": CONFIG["api_key"],
    }
    form.update(extra)
    return form


class ServicesTest(unittest.TestCase):
    """The service list and a service definition, through georeport in both formats."""

    def check_services(self, services, fmt):
        by_code = {s["service_code"]: s for s in services}
        self.assertIn(SERVICE_CODE, by_code, "%s: service list without %s" % (fmt, SERVICE_CODE))
        for s in services:
            for field in ("service_code", "service_name", "metadata", "type"):
                self.assertIn(field, s, "%s: service %r without %s" % (fmt, s, field))
            self.assertTrue(s["service_name"], "%s: service %s without a name" % (fmt, s["service_code"]))
        note("%s service list: %d services, %s is %r" % (fmt, len(services), SERVICE_CODE,
                                                          by_code[SERVICE_CODE]["service_name"]))
        return by_code

    def test_service_list_json(self):
        g, shim = client("json", with_key=False)
        with using(shim):
            services = g.get_service_list()
        self.assertTrue(shim.urls[0].endswith("/services.json"), shim.urls)
        by_code = self.check_services(services, "json")
        self.assertIs(by_code[SERVICE_CODE]["metadata"], True)
        self.assertEqual(by_code[SERVICE_CODE]["type"], "realtime")

    def test_service_list_xml(self):
        g, shim = client("xml", with_key=False)
        with using(shim):
            services = as_list(g.get_service_list())
        self.assertTrue(shim.urls[0].endswith("/services.xml"), shim.urls)
        by_code = self.check_services(services, "xml")
        self.assertEqual(by_code[SERVICE_CODE]["metadata"], "true")

    def test_service_list_locale(self):
        # The names follow the catalogue's labels in the language asked for.
        with open(os.path.join(REPO_ROOT, "deploy", "config", "categories.yaml"), encoding="utf-8") as f:
            catalogue = yaml.safe_load(f)
        labels = next(c["labels"] for c in catalogue["categories"]
                      if str(c.get("service_code")) == SERVICE_CODE)
        for locale in ("nl", "fr", "en"):
            status, _, body = http("GET", "/services.json", {"locale": locale})
            self.assertEqual(status, 200, body)
            names = {s["service_code"]: s["service_name"] for s in json.loads(body)}
            self.assertEqual(names[SERVICE_CODE], labels[locale])
        note("services.json?locale=nl|fr|en: %s is %r / %r / %r" % (
            SERVICE_CODE, labels["nl"], labels["fr"], labels["en"]))

    def check_definition(self, definition, fmt):
        self.assertEqual(str(definition["service_code"]), SERVICE_CODE)
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = as_list(attributes["attribute"])
        codes = {a["code"]: a for a in attributes}
        self.assertTrue(ATTRIBUTES <= set(codes), "%s: attributes %s" % (fmt, sorted(codes)))
        kind = codes["kind"]
        values = kind["values"] if fmt == "json" else as_list(kind["values"]["value"])
        self.assertEqual({v["key"] for v in values},
                         {"REPORT", "COMPLAINT", "SUGGESTION", "COMPLIMENT", "QUESTION"})
        self.assertEqual(kind["datatype"], "singlevaluelist")
        note("%s service definition of %s: attributes %s; kind takes %s" % (
            fmt, SERVICE_CODE, ", ".join(sorted(codes)), ", ".join(sorted(v["key"] for v in values))))

    def test_service_definition_json(self):
        g, shim = client("json", with_key=False)
        with using(shim):
            self.check_definition(g.get_service_definition(SERVICE_CODE), "json")
        self.assertTrue(shim.urls[0].endswith("/services/%s.json" % SERVICE_CODE), shim.urls)

    def test_service_definition_xml(self):
        g, shim = client("xml", with_key=False)
        with using(shim):
            self.check_definition(g.get_service_definition(SERVICE_CODE), "xml")

    def test_unknown_service_definition(self):
        g, shim = client("json", with_key=False)
        with using(shim), self.assertRaises(requests.HTTPError) as ctx:
            g.get_service_definition("999")
        self.assertEqual(ctx.exception.response.status_code, 404)
        errors = json_errors(ctx.exception.response.content)
        self.assertEqual(errors[0]["code"], 404)
        note("services/999.json: 404 %s" % errors)

    def test_discovery(self):
        status, _, body = http("GET", "/discovery.json")
        self.assertEqual(status, 200, body)
        endpoints = json.loads(body)["endpoints"]
        self.assertTrue(any("GeoReport_v2" in e.get("specification", "") for e in endpoints), endpoints)
        status, _, body = http("GET", "/discovery.xml")
        self.assertEqual(status, 200, body)
        self.assertEqual(ET.fromstring(body).tag, "discovery")
        note("discovery.json and discovery.xml name the GeoReport v2 endpoint")


class ServiceRequestTest(unittest.TestCase):
    """One service request from its POST to its routing. The steps run in the order of their
    names and share what the first one made; a step after a failed one is skipped."""

    created = None  # {"id", "token", "description"} once test_1 passed

    def need_request(self):
        if ServiceRequestTest.created is None:
            self.skipTest("no service request was created")
        return ServiceRequestTest.created

    def test_1_post_and_retry(self):
        key = "clients-test-" + uuid.uuid4().hex
        description = "De lamp voor nummer 12 brandt niet meer (%s)" % key
        form = service_request_form(description)
        status, _, body = http("POST", "/requests.json", form=form, headers={"Idempotency-Key": key})
        self.assertEqual(status, 201, body)
        first = json.loads(body)
        self.assertEqual(len(first), 1, first)
        sr_id = first[0]["service_request_id"]
        self.assertRegex(sr_id, r"^MP-\d{4}-[0-9A-Z]{9,}$")
        self.assertEqual(first[0].get("token"), key, "the token is the Idempotency-Key")
        note("POST requests.json with Idempotency-Key: 201, service_request_id %s, token = the key" % sr_id)

        status, _, body = http("POST", "/requests.json", form=form, headers={"Idempotency-Key": key})
        self.assertEqual(status, 200, body)
        again = json.loads(body)
        self.assertEqual(again[0]["service_request_id"], sr_id)
        note("the same POST again: 200 with the same service_request_id")
        ServiceRequestTest.created = {"id": sr_id, "token": key, "description": description}

    def test_2_post_without_key_is_idempotent_too(self):
        # Without the header the key is derived from the request: the same form is the same case.
        form = service_request_form("Flikkerende lamp in de Veldstraat (%s)" % uuid.uuid4().hex)
        status, _, body = http("POST", "/requests.json", form=form)
        self.assertEqual(status, 201, body)
        sr_id = json.loads(body)[0]["service_request_id"]
        token = json.loads(body)[0].get("token")
        status, _, body = http("POST", "/requests.json", form=form)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)[0]["service_request_id"], sr_id)
        self.assertEqual(json.loads(body)[0].get("token"), token)
        note("POST without Idempotency-Key, twice: 201 then 200, same case %s and token" % sr_id)

    def test_2_post_xml(self):
        form = service_request_form("Lamp brandt overdag (%s)" % uuid.uuid4().hex)
        status, headers, body = http("POST", "/requests.xml", form=form)
        self.assertEqual(status, 201, body)
        self.assertIn("xml", headers.get("Content-Type", ""))
        root = ET.fromstring(body)
        self.assertEqual(root.tag, "service_requests")
        self.assertRegex(root.findtext("request/service_request_id") or "", r"^MP-\d{4}-")
        note("POST requests.xml: 201, <service_requests><request><service_request_id>%s" %
             root.findtext("request/service_request_id"))

    def check_request(self, sr, fmt):
        created = self.need_request()
        self.assertEqual(sr["service_request_id"], created["id"])
        self.assertEqual(str(sr["service_code"]), SERVICE_CODE)
        self.assertEqual(sr["description"], created["description"])
        self.assertIn(sr["status"], ("open", "closed"))
        self.assertTrue(sr["service_name"])
        for field in ("requested_datetime", "updated_datetime"):
            self.assertRegex(sr[field], BRUSSELS_TIME, "%s: %s" % (fmt, field))
        self.assertAlmostEqual(float(sr["lat"]), 51.0543, places=4)
        self.assertAlmostEqual(float(sr["long"]), 3.7174, places=4)
        self.assertEqual(sr.get("media_url"), "https://example.org/pictures/lamp-12.jpg")

    def test_3_read_back_json(self):
        created = self.need_request()
        g, shim = client("json")
        with using(shim):
            sr = g.get_service_request(created["id"])
            self.check_request(sr, "json")
            listed = g.get_service_requests(service_request_id=created["id"])
        self.assertTrue(shim.urls[0].endswith("/requests/%s.json" % created["id"]), shim.urls)
        self.assertEqual([s["service_request_id"] for s in listed], [created["id"]])
        self.check_request(listed[0], "json")
        note("georeport json: get_service_request(%s) and get_service_requests(service_request_id=...)"
             ": status %s, detailed_status %s, requested %s" % (
                 created["id"], sr["status"], sr.get("detailed_status"), sr["requested_datetime"]))

    def test_3_read_back_xml(self):
        created = self.need_request()
        g, shim = client("xml")
        with using(shim):
            sr = g.get_service_request(created["id"])
            self.check_request(sr, "xml")
            listed = as_list(g.get_service_requests(service_request_id=created["id"]))
        self.assertEqual([s["service_request_id"] for s in listed], [created["id"]])
        note("georeport xml: get_service_request and get_service_requests give the same request")

    def test_3_filters(self):
        created = self.need_request()
        status, _, body = http("GET", "/requests.json", {
            "api_key": CONFIG["api_key"], "service_code": SERVICE_CODE, "status": "open", "page_size": 200})
        self.assertEqual(status, 200, body)
        listed = json.loads(body)
        self.assertTrue(all(s["status"] == "open" and s["service_code"] == SERVICE_CODE for s in listed))
        self.assertIn(created["id"], [s["service_request_id"] for s in listed])
        # As GeoReport v2 says, service_request_id overrides the other filters.
        status, _, body = http("GET", "/requests.json", {
            "api_key": CONFIG["api_key"], "service_request_id": created["id"], "status": "closed"})
        self.assertEqual(status, 200, body)
        self.assertEqual([s["service_request_id"] for s in json.loads(body)], [created["id"]])
        note("requests.json?service_code=%s&status=open lists it (%d open); service_request_id "
             "overrides status=closed" % (SERVICE_CODE, len(listed)))

    def test_3_token(self):
        created = self.need_request()
        for fmt in ("json", "xml"):
            status, _, body = http("GET", "/tokens/%s.%s" % (created["token"], fmt),
                                   {"api_key": CONFIG["api_key"]})
            self.assertEqual(status, 200, body)
            if fmt == "json":
                got = json.loads(body)[0]
            else:
                got = {c.tag: c.text for c in ET.fromstring(body).find("request")}
            self.assertEqual(got["service_request_id"], created["id"])
            self.assertEqual(got["token"], created["token"])
        note("tokens/<token>.json and .xml give %s" % created["id"])

    def test_4_routed(self):
        created = self.need_request()
        g, shim = client("json")
        deadline = time.monotonic() + CONFIG["wait"]
        sr = None
        with using(shim):
            while time.monotonic() < deadline:
                sr = g.get_service_request(created["id"])
                if sr.get("agency_responsible"):
                    break
                time.sleep(0.5)
        self.assertTrue(sr and sr.get("agency_responsible"),
                        "not routed within %.0f s: %r" % (CONFIG["wait"], sr))
        self.assertEqual(sr["status"], "open")
        self.assertIn(sr.get("detailed_status"), OPEN_DETAILED, sr)
        if sr.get("expected_datetime"):
            self.assertRegex(sr["expected_datetime"], BRUSSELS_TIME)
        note("routed: agency_responsible %r, detailed_status %s, meldpunt_state %s, status_notes %r, "
             "expected %s" % (sr["agency_responsible"], sr.get("detailed_status"),
                              sr.get("meldpunt_state"), sr.get("status_notes"),
                              sr.get("expected_datetime")))
        ServiceRequestTest.routed = sr

    def test_5_intake_agrees(self):
        created = self.need_request()
        sr = getattr(ServiceRequestTest, "routed", None)
        if sr is None:
            self.skipTest("the request was not seen routed")
        if not CONFIG["intake"] or not CONFIG["grpcurl"]:
            self.skipTest("no intake address or no grpcurl: the intake's view is not compared")
        proc = subprocess.run(
            [CONFIG["grpcurl"], "-plaintext", "-max-time", "10", "-d",
             json.dumps({"caseId": created["id"]}), CONFIG["intake"],
             "meldpunt.intake.v1.Intake/GetCase"],
            capture_output=True, text=True, timeout=30)
        if proc.returncode != 0 and "Unauthenticated" in proc.stderr:
            self.skipTest("the intake wants credentials: %s" % proc.stderr.strip())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        answer = json.loads(proc.stdout)
        case = answer["case"]

        def field(obj, name):
            camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
            return obj.get(name, obj.get(camel))

        self.assertEqual(field(case, "reference"), created["id"])
        self.assertEqual(field(case, "submitting_system"), "city-app")
        self.assertEqual(case["draft"]["kind"], "REPORT")
        self.assertEqual(case["draft"]["category"], "street-lighting")
        department = case.get("department")
        self.assertTrue(department, case)
        with open(os.path.join(REPO_ROOT, "deploy", "config", "categories.yaml"), encoding="utf-8") as f:
            names = next((d["labels"] for d in yaml.safe_load(f).get("departments", [])
                          if d["id"] == department), {})
        self.assertIn(sr["agency_responsible"], set(names.values()) | {department})
        note("the intake's GetCase: submitting_system city-app, REPORT street-lighting, department %s "
             "(the gateway's agency_responsible %r)" % (department, sr["agency_responsible"]))


    def test_6_service_request_updates(self):
        # FixMyStreet's extension: the reporter adds information, then the client pulls updates.
        created = self.need_request()
        form = {"api_key": CONFIG["api_key"], "service_request_id": created["id"],
                "update_id": "clients-test-" + uuid.uuid4().hex,
                "description": "Het gaat om de paal tegenover de bakker."}
        status, _, body = http("POST", "/servicerequestupdates.json", form=form)
        self.assertEqual(status, 200, body)
        update_id = json.loads(body)[0]["update_id"]
        self.assertTrue(update_id)
        status, _, body = http("POST", "/servicerequestupdates.json", form=form)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)[0]["update_id"], update_id, "a repeat adds nothing new")
        note("POST servicerequestupdates.json, twice with one update_id: 200, update_id %s both times"
             % update_id)
        status, _, body = http("GET", "/servicerequestupdates.json", {"api_key": CONFIG["api_key"]})
        self.assertEqual(status, 200, body)
        mine = [u for u in json.loads(body) if u["service_request_id"] == created["id"]]
        self.assertEqual(len(mine), 1, "one update per changed case: %r" % mine)
        self.assertEqual(mine[0]["status"], "open")
        self.assertRegex(mine[0]["updated_datetime"], BRUSSELS_TIME)
        status, _, body = http("GET", "/servicerequestupdates.xml", {"api_key": CONFIG["api_key"]})
        self.assertEqual(status, 200, body)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, "service_request_updates")
        self.assertIn(created["id"], [u.findtext("service_request_id") for u in root.findall("request_update")])
        note("GET servicerequestupdates.json and .xml list the case once, status open")


class ErrorsTest(unittest.TestCase):
    """What a client sees when it is wrong."""

    def test_unknown_service_code(self):
        form = service_request_form("Onbekende dienst", service_code="999")
        status, _, body = http("POST", "/requests.json", form=form)
        self.assertEqual(status, 400, body)
        errors = json_errors(body)
        self.assertEqual(errors[0]["code"], 400)
        self.assertIn("service_code", errors[0]["description"])
        note("POST requests.json service_code=999: 400 %s" % errors)
        status, _, body = http("POST", "/requests.xml", form=form)
        self.assertEqual(status, 400, body)
        errors = xml_errors(body)
        self.assertEqual(errors[0]["code"], "400")
        note("POST requests.xml service_code=999: 400 <errors><error> %s" % errors)

    def test_bad_api_key(self):
        status, _, body = http("GET", "/requests.json", {"api_key": "not-a-key"})
        self.assertEqual(status, 403, body)
        self.assertEqual(json_errors(body)[0]["code"], 403)
        form = service_request_form("Met een verkeerde sleutel", api_key="not-a-key")
        status, _, body = http("POST", "/requests.xml", form=form)
        self.assertEqual(status, 403, body)
        self.assertEqual(xml_errors(body)[0]["code"], "403")
        note("a bad api_key: 403 on GET requests.json and on POST requests.xml")

    def test_georeport_without_key(self):
        # georeport 0.3.1 as it is: it never sends its api_key, so reading requests is refused.
        g, shim = client("json", with_key=False)
        with using(shim), self.assertRaises(requests.HTTPError) as ctx:
            g.get_service_requests()
        self.assertEqual(ctx.exception.response.status_code, 403)
        note("georeport's own get_service_requests (no api_key sent): 403")


def load_state(state_dir):
    path = os.path.join(state_dir, "stack.json")  # tests/harness/stack.py state_path()
    with open(path, encoding="utf-8") as f:
        st = json.load(f)
    services = st.get("services", {})
    gateway = services.get("open311", {}).get("http")
    if not gateway:
        sys.exit("clients_test: no open311 gateway with an http address in %s" % path)
    return gateway, services.get("intake", {}).get("grpc")


def find_grpcurl(given):
    if given:
        return given
    cache = os.environ.get("MELDPUNT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "meldpunt")
    candidate = os.path.join(cache, "bin", "grpcurl")
    return candidate if os.access(candidate, os.X_OK) else shutil.which("grpcurl")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state-dir", help="the e2e stack's state folder (its stack.json names the gateway)")
    ap.add_argument("--base", default=os.environ.get("OPEN311_BASE"),
                    help="the gateway's base URL, http://HOST:PORT/open311/v2 (env OPEN311_BASE)")
    ap.add_argument("--api-key", default=os.environ.get("OPEN311_API_KEY", "dev-open311-key"),
                    help="an API key of the e2e keys file (env OPEN311_API_KEY)")
    ap.add_argument("--intake", default=os.environ.get("MELDPUNT_INTAKE"),
                    help="the intake's gRPC address, to compare its view (env MELDPUNT_INTAKE)")
    ap.add_argument("--grpcurl", help="grpcurl to read the case from the intake (default: the cache's)")
    ap.add_argument("--wait", type=float, default=60.0, help="seconds to wait for routing")
    args, rest = ap.parse_known_args(argv[1:])
    if args.state_dir:
        gateway, intake = load_state(args.state_dir)
        CONFIG["base"] = args.base or "http://%s/open311/v2" % gateway
        CONFIG["intake"] = args.intake or intake
    else:
        CONFIG["base"] = args.base
        CONFIG["intake"] = args.intake
    if not CONFIG["base"]:
        ap.error("give --state-dir or --base")
    CONFIG["base"] = CONFIG["base"].rstrip("/")
    CONFIG["api_key"] = args.api_key
    CONFIG["grpcurl"] = find_grpcurl(args.grpcurl)
    CONFIG["wait"] = args.wait
    print("clients_test: georeport %s against %s (intake %s)" % (
        georeport.__version__, CONFIG["base"], CONFIG["intake"] or "not given"), flush=True)
    result = unittest.main(argv=[argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
