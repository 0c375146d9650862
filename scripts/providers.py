#!/usr/bin/env python3
"""The provider list for shell scripts, read from `scribehook providers` (the code declares
each provider once; docs/cli.md#providers), so that no script repeats it.

usage: providers.py SCRIBEHOOK_BINARY names   one provider id per line, in the code's order
       providers.py SCRIBEHOOK_BINARY env     `export <PROVIDER>_WEBHOOK_SECRETS=<test secret>`
                                              lines for every provider, for `eval` (the test
                                              secrets the samples are signed with,
                                              events/README.md; never for a deployment)
"""
import json
import shlex
import subprocess
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("names", "env"):
        sys.exit(__doc__)
    binary, what = sys.argv[1], sys.argv[2]
    out = subprocess.run([binary, "providers"], capture_output=True, check=True, text=True).stdout
    for provider in map(json.loads, out.splitlines()):
        if what == "names":
            print(provider["name"])
        else:
            print(f"export {provider['secrets_env']}={shlex.quote(provider['sample_secret'])}")


if __name__ == "__main__":
    main()
