#!/usr/bin/env python3
"""Regenerate the location tables in rules/ from two independent public datasets.

    python3 -m venv .venv && .venv/bin/pip install phonenumbers==9.0.43 zipcodes==3.0.0
    .venv/bin/python rules/tools/generate_location_tables.py

Writes rules/area_codes.csv, rules/zip3.csv and rules/state_zones.csv.

Sources and how they are combined (see docs/rules.md for the reasoning):

* `phonenumbers` (Apache-2.0, a port of Google's libphonenumber): its time-zone
  map (`tzdata.TIMEZONE_DATA`, keyed by NANP prefixes of 4 to 7 digits) and its
  English geocoder (`geodata.GEOCODE_DATA`: "Florida", "Pensacola, FL", ...).
  An area code's zones are the UNION over every prefix under it; its states are
  the union over every geocoder description under it. Which region owns an
  area code (US, Canada, a Caribbean country, a US territory) comes from the
  region metadata's leading-digit patterns.
* `zipcodes` (MIT): one row per ZIP with state, IANA zone and the area codes
  the ZIP is served by. Its area-code lists are noisy (they name neighbouring
  states' and Canadian codes), so they only ADD zones to an area code when the
  ZIP lies in a state that phonenumbers already gives for that code.
* Hand-written overrides below, each with a reason, for facts both datasets
  miss (overlay complexes, West Wendover NV, Alaska's zones). Overrides only
  ever add zones: an extra candidate zone makes the gate stricter, a missing
  one makes it wrong.

Confidence: a row is `verified` when both datasets know it and agree with the
row (every zone the row lists is named by one of them and no override was
needed); otherwise `unverified`, and the note says why.
"""
import csv
import collections
import pathlib
import re
import zoneinfo

import phonenumbers
from phonenumbers import geodata, tzdata
import zipcodes

ROOT = pathlib.Path(__file__).resolve().parents[1]

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
    "Washington D.C.": "DC", "District of Columbia": "DC",
    "Puerto Rico": "PR", "Guam": "GU", "American Samoa": "AS",
    "Northern Mariana Islands": "MP", "US Virgin Islands": "VI", "U.S. Virgin Islands": "VI",
}
US_REGIONS = {"US": None, "PR": "PR", "VI": "VI", "GU": "GU", "AS": "AS", "MP": "MP"}
TERRITORY_ZONES = {"PR": "America/Puerto_Rico", "VI": "America/St_Thomas", "GU": "Pacific/Guam",
                   "AS": "Pacific/Pago_Pago", "MP": "Pacific/Saipan"}

# Overlay complexes whose members span more than one zone: every member gets
# the union of the complex's zones (an overlay code is issued anywhere in the
# old code's territory). Source: NANPA's overlay planning letters, from memory
# of the public record; listed as unverified in the rows they touch.
OVERLAYS = [
    ("850", "448"), ("270", "364"), ("208", "986"), ("541", "458"), ("812", "930"),
    ("423", "729"),
]

# Facts both datasets miss, each only ADDING zones.
AREA_CODE_ADDS = {
    "907": (["America/Anchorage", "America/Juneau", "America/Sitka", "America/Yakutat",
             "America/Nome", "America/Metlakatla", "America/Adak"],
            "all of Alaska's zones: one area code covers the whole state incl. the Aleutians west of 169°30'W"),
    "928": (["America/Phoenix", "America/Denver"],
            "Navajo Nation in NE Arizona observes DST (behaves as America/Denver)"),
    "775": (["America/Denver"], "West Wendover NV keeps Mountain time"),
    "915": (["America/Denver"], "El Paso and Hudspeth counties keep Mountain time"),
    "906": (["America/Menominee", "America/Detroit"], "four UP counties bordering Wisconsin keep Central time"),
}
STATE_ADDS = {
    "NV": (["America/Denver"], "West Wendover keeps Mountain time (zipcodes puts 89883 in Los_Angeles)"),
    "AZ": (["America/Denver"], "Navajo Nation observes DST"),
    "AK": (["America/Adak", "America/Metlakatla", "America/Yakutat"], "all Alaska zones"),
    "OR": (["America/Boise"], "most of Malheur County keeps Mountain time"),
    "ID": (["America/Los_Angeles"], "northern panhandle keeps Pacific time"),
}
ZIP_OVERRIDES = {"89883": ("America/Denver", "West Wendover NV keeps Mountain time")}


def valid_zone(name):
    try:
        zoneinfo.ZoneInfo(name)
        return "/" in name
    except Exception:
        return False


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


def states_of_description(text):
    if text in STATE_NAMES:
        return {STATE_NAMES[text]}
    m = re.search(r", ([A-Z]{2})$", text)
    return {m.group(1)} if m else set()


def fmt(values):
    return "|".join(sorted(values))


def main():
    # ---- area codes from phonenumbers ---------------------------------------
    pn_zones = collections.defaultdict(set)
    for prefix, zones in tzdata.TIMEZONE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4:
            pn_zones[prefix[1:4]].update(z for z in zones if valid_zone(z))
    pn_states = collections.defaultdict(set)
    for prefix, names in geodata.GEOCODE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4 and "en" in names:
            pn_states[prefix[1:4]] |= states_of_description(names["en"])

    npas = {}
    for npa in sorted(set(pn_zones) | set(pn_states)):
        region = region_of_npa(npa)
        if region not in US_REGIONS:
            continue
        states = {s for s in pn_states.get(npa, set()) if s in set(STATE_NAMES.values())}
        if US_REGIONS[region]:
            states = {US_REGIONS[region]}
        zones = set(pn_zones.get(npa, set()))
        if region in TERRITORY_ZONES:
            zones.add(TERRITORY_ZONES[region])
        if not states or not zones:
            continue  # non-geographic (toll-free, 5XX, 900): no location -> not in the table
        npas[npa] = {"states": states, "zones": zones, "notes": [], "sources": {"phonenumbers"}}

    # ---- ZIPs from zipcodes ---------------------------------------------------
    zip_rows = zipcodes.list_all()
    state_zones = collections.defaultdict(set)
    for r in zip_rows:
        if valid_zone(r["timezone"]):
            state_zones[r["state"]].add(r["timezone"])
    state_notes = collections.defaultdict(list)
    for st, (adds, why) in STATE_ADDS.items():
        if not set(adds) <= state_zones[st]:
            state_notes[st].append("override: " + why)
        state_zones[st].update(adds)

    zip3 = collections.defaultdict(lambda: {"states": set(), "zones": set(), "notes": set()})
    zip_zone_known = collections.Counter()
    for r in zip_rows:
        z = r["zip_code"]
        tz = r["timezone"]
        row = zip3[z[:3]]
        if z in ZIP_OVERRIDES:
            tz, why = ZIP_OVERRIDES[z]
            row["notes"].add(f"{z}: {why}")
        if r["state"] in ("AA", "AE", "AP"):
            continue  # military mail: no place on the map, no zone
        row["states"].add(r["state"])
        if valid_zone(tz):
            row["zones"].add(tz)
            zip_zone_known[r["state"]] += 1
        else:
            # zipcodes has no (or a garbage) zone: take every zone of its state.
            row["zones"] |= state_zones[r["state"]]
            row["notes"].add(f"{z}: no valid zone in zipcodes ({tz!r}), all {r['state']} zones used")

    # zipcodes' area-code lists add zones, but only inside states phonenumbers names.
    zc_zones = collections.defaultdict(set)
    for r in zip_rows:
        tz = ZIP_OVERRIDES.get(r["zip_code"], (r["timezone"], ""))[0]
        if not valid_zone(tz):
            continue
        for npa in r["area_codes"] or []:
            if npa in npas and r["state"] in npas[npa]["states"]:
                zc_zones[npa].add(tz)
    for npa, row in npas.items():
        extra = zc_zones.get(npa, set())
        if extra:
            row["sources"].add("zipcodes")
        if extra - row["zones"]:
            row["notes"].append("zones added from zipcodes: " + fmt(extra - row["zones"]))
        row["zones"] |= extra
    for npa, (adds, why) in AREA_CODE_ADDS.items():
        if npa in npas and not set(adds) <= npas[npa]["zones"]:
            npas[npa]["notes"].append("override: " + why)
            npas[npa]["override"] = True
        if npa in npas:
            npas[npa]["zones"] |= set(adds)
    for complex_ in OVERLAYS:
        members = [n for n in complex_ if n in npas]
        union_zones = set().union(*(npas[n]["zones"] for n in members))
        union_states = set().union(*(npas[n]["states"] for n in members))
        for n in members:
            if union_zones - npas[n]["zones"] or union_states - npas[n]["states"]:
                npas[n]["notes"].append("overlay complex " + "/".join(complex_))
                npas[n]["override"] = True
            npas[n]["zones"] |= union_zones
            npas[n]["states"] |= union_states

    with open(ROOT / "area_codes.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["area_code", "states", "time_zones", "confidence", "sources", "note"])
        for npa in sorted(npas):
            row = npas[npa]
            verified = row["sources"] == {"phonenumbers", "zipcodes"} and not row.get("override")
            w.writerow([npa, fmt(row["states"]), fmt(row["zones"]),
                        "verified" if verified else "unverified", fmt(row["sources"]),
                        "; ".join(row["notes"]) or ("" if verified else "zipcodes lists no ZIP for this code")])

    with open(ROOT / "zip3.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["zip3", "states", "time_zones", "confidence", "note"])
        for p in sorted(zip3):
            row = zip3[p]
            if not row["zones"]:
                continue
            w.writerow([p, fmt(row["states"]), fmt(row["zones"]),
                        "unverified" if row["notes"] else "verified", "; ".join(sorted(row["notes"]))])

    with open(ROOT / "state_zones.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["state", "time_zones", "confidence", "note"])
        for st in sorted(state_zones):
            if st in ("AA", "AE", "AP") or not state_zones[st]:
                continue
            w.writerow([st, fmt(state_zones[st]), "unverified" if state_notes[st] else "verified",
                        "; ".join(state_notes[st])])


if __name__ == "__main__":
    main()
