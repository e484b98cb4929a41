#!/usr/bin/env python3
"""Oracle: compare tollgate-rules' candidate zones and states with two
independent libraries from PyPI.

    python zones_oracle.py CANDIDATES.csv

CANDIDATES.csv is what the crate answers for every area code and ZIP prefix,
printed by `cargo run -q -p tollgate-rules --example zones` (the same lookup
the gate calls). scripts/test.d/20-rules-oracle.sh runs all of this.

Safety properties checked (a failure here means the gate could allow a call
at a wrong local time):

1. phonenumbers: for every NANP prefix (4 to 7 digits) that it places in the
   US or a US territory, its time zones are a subset of our candidate zones
   for that area code, and the state its geocoder names is among our
   candidate states.
2. zipcodes: for every ZIP with a valid IANA zone, the zone and the state are
   within our ZIP3 candidates; military ZIP prefixes (no place on the map)
   are unplaced, so the gate denies them.
3. zipcodes' area-code lists: for every ZIP whose state is among an area
   code's states, the ZIP's zone is among the area code's zones.

Coverage (reported, not failures, since unknown means deny): US prefixes of
an area code we do not place.
"""
import csv
import re
import sys
import zoneinfo

import phonenumbers
from phonenumbers import geodata, tzdata
import zipcodes

US_REGIONS = {"US", "PR", "VI", "GU", "AS", "MP"}
TERRITORY = {"PR": "PR", "VI": "VI", "GU": "GU", "AS": "AS", "MP": "MP"}
STATE_NAMES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC",
}


def load_candidates(path):
    out = {"area_code": {}, "zip3": {}}
    with open(path) as f:
        rows = [line for line in f if not line.startswith("#")]
    for r in csv.DictReader(rows):
        states = set(filter(None, r["states"].split("|")))
        zones = set(filter(None, r["time_zones"].split("|")))
        out[r["kind"]][r["key"]] = (states, zones, r["unplaced"] == "1")
    return out


def region_of_npa(npa, cache={}):
    """The phonenumbers region that owns this area code: the region of a
    sample number when it is valid, else the region whose leading-digit
    pattern matches (territories and Caribbean countries have one; Canada and
    the US are told apart by their number patterns, hence the sample)."""
    if npa not in cache:
        owner = phonenumbers.region_code_for_number(phonenumbers.parse("+1" + npa + "2345678"))
        if owner is None:
            owner = "US"
            for region in phonenumbers.region_codes_for_country_code(1):
                meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
                if meta is not None and meta.leading_digits and re.match(meta.leading_digits, npa):
                    owner = region
        cache[npa] = owner
    return cache[npa]


def valid_zone(name):
    try:
        zoneinfo.ZoneInfo(name)
        return "/" in name
    except Exception:
        return False


def main():
    cand = load_candidates(sys.argv[1])
    failures, checks = [], {}

    def check(name, ok, message):
        checks.setdefault(name, [0, 0])
        checks[name][0 if ok else 1] += 1
        if not ok and len(failures) < 60:
            failures.append(f"{name}: {message}")

    unplaced_prefixes = set()
    # 1. phonenumbers time zones per prefix.
    for prefix, zones in sorted(tzdata.TIMEZONE_DATA.items()):
        if not prefix.startswith("1") or len(prefix) < 4:
            continue
        npa = prefix[1:4]
        if region_of_npa(npa) not in US_REGIONS:
            continue
        states, ours, unplaced = cand["area_code"][npa]
        theirs = {z for z in zones if z != "Etc/Unknown"}
        if unplaced:
            unplaced_prefixes.add(npa)
            continue
        check("phonenumbers zones within area-code zones", theirs <= ours,
              f"+{prefix}: {sorted(theirs - ours)} not in {sorted(ours)}")
    # 1b. phonenumbers geocoder states per prefix.
    for prefix, names in sorted(geodata.GEOCODE_DATA.items()):
        if not prefix.startswith("1") or len(prefix) < 4 or "en" not in names:
            continue
        npa = prefix[1:4]
        region = region_of_npa(npa)
        if region not in US_REGIONS:
            continue
        text = names["en"]
        m = re.search(r", ([A-Z]{2})$", text)
        state = TERRITORY.get(region) or STATE_NAMES.get(text) or (m.group(1) if m else None)
        states, _, unplaced = cand["area_code"][npa]
        if state is None or unplaced:
            continue
        check("phonenumbers states within area-code states", state in states,
              f"+{prefix} ({text}): {state} not in {sorted(states)}")

    # 2. zipcodes ZIP -> zone and state.
    zip_rows = zipcodes.list_all()
    for r in zip_rows:
        states, zones, unplaced = cand["zip3"][r["zip_code"][:3]]
        if r["state"] in ("AA", "AE", "AP"):
            continue
        tz = r["timezone"]
        if valid_zone(tz):
            check("zipcodes zone within ZIP3 zones", tz in zones,
                  f"{r['zip_code']} ({r['city']}, {r['state']}): {tz} not in {sorted(zones)}")
        check("zipcodes state within ZIP3 states", r["state"] in states,
              f"{r['zip_code']}: {r['state']} not in {sorted(states)}")
    military_only = {p for p in {r["zip_code"][:3] for r in zip_rows}
                     if all(x["state"] in ("AA", "AE", "AP") for x in zip_rows if x["zip_code"][:3] == p)}
    for p in sorted(military_only):
        check("military ZIP prefixes are unplaced", cand["zip3"][p][2], f"{p} has candidates")

    # 3. zipcodes area-code lists, within the area code's own states.
    for r in zip_rows:
        tz = r["timezone"]
        if not valid_zone(tz) or r["zip_code"] == "89883":  # zipcodes' known West Wendover error
            continue
        for npa in r["area_codes"] or []:
            states, zones, unplaced = cand["area_code"].get(npa, (set(), set(), True))
            if unplaced or r["state"] not in states:
                continue
            check("zipcodes zone within area-code zones", tz in zones,
                  f"{r['zip_code']} ({r['state']}) via {npa}: {tz} not in {sorted(zones)}")

    for name, (ok, bad) in checks.items():
        print(f"  {name}: {ok} ok, {bad} failed")
    if unplaced_prefixes:
        print(f"  coverage: US area codes in phonenumbers that we do not place (denied): {sorted(unplaced_prefixes)}")
    for f in failures:
        print("FAIL", f)
    passed = sum(1 for ok, bad in checks.values() if bad == 0)
    failed = len(checks) - passed
    print(f"oracle: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
