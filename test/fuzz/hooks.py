"""Schemathesis hooks for the API fuzz run (test/api-fuzz.solo.test.ts).

The fuzz run acts as a seeded admin and a seeded device. It may create, change and delete anything else, but
it must not lock itself out halfway: the ids of its own user and device (WA_FUZZ_OWN_USER, WA_FUZZ_OWN_DEVICE)
are never used as path parameters of the routes that change or delete users and devices.
"""
import os

import schemathesis

OWN = {
    "/v1/users/{id}": int(os.environ.get("WA_FUZZ_OWN_USER", "0")),
    "/v1/devices/{id}": int(os.environ.get("WA_FUZZ_OWN_DEVICE", "0")),
}


@schemathesis.hook("filter_case")
def keep_own_credentials(context, case):
    """every phase's cases pass here (the path parameter hooks only see the fuzzing phase's)"""
    own = OWN.get(case.operation.path)
    if own is None or not isinstance(case.path_parameters, dict):
        return True
    return str(case.path_parameters.get("id")) != str(own)
