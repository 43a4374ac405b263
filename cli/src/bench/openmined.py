"""OpenMined PSI side of `cordon bench --compare`.

Written into the bench's work folder by `cordon` and run with the Python of the virtual
environment that holds `openmined-psi`. Reads the same files Cordon's data come from (one value
per line), so both systems see identical sets. Prints one JSON object on stdout.

    openmined.py version
    openmined.py run --structure bloom|gcs --holder FILE --query FILE [--query FILE ...]
                     --fp-per-lookup P

`run` is one holder: its set-up (`CreateSetupMessage`), its peak memory right after the set-up
(`ru_maxrss` of this process, which holds nothing but the holder's set and the interpreter),
then each query in turn: `CreateRequest` + `ProcessRequest` + `GetIntersection`, timed
together, the set-up excluded (it is made once and re-sent with every query).

OpenMined's false-positive rate is for a whole query: its per-lookup rate is
fpr / num_client_inputs. The set-up is made for the largest query with
fpr = P * largest, so every lookup has rate P, as in Cordon's filter.
"""

import argparse
import json
import platform
import resource
import sys
import time


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line for line in f.read().split("\n") if line]


def version():
    from importlib.metadata import version as pkg_version

    return {
        "openmined_psi": pkg_version("openmined-psi"),
        "python": platform.python_version(),
    }


def run(a):
    import private_set_intersection.python as psi

    structure = {
        "bloom": psi.DataStructure.BLOOM_FILTER,
        "gcs": psi.DataStructure.GCS,
    }[a.structure]
    holder = read_lines(a.holder)
    queries = [read_lines(q) for q in a.query]
    largest = max(len(q) for q in queries)
    fpr = a.fp_per_lookup * largest

    server = psi.server.CreateWithNewKey(True)
    c0, t0 = time.process_time(), time.perf_counter()
    setup = server.CreateSetupMessage(fpr, largest, holder, structure)
    setup_s = time.perf_counter() - t0
    setup_cpu_s = time.process_time() - c0
    # ru_maxrss is in KiB on Linux.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    setup_bytes = len(setup.SerializeToString())

    out = []
    for items in queries:
        client = psi.client.CreateWithNewKey(True)
        c0, t0 = time.process_time(), time.perf_counter()
        request = client.CreateRequest(items)
        t1 = time.perf_counter()
        response = server.ProcessRequest(request)
        t2 = time.perf_counter()
        hits = client.GetIntersection(setup, response)
        t3 = time.perf_counter()
        cpu_s = time.process_time() - c0
        out.append(
            {
                "items": len(items),
                "request_s": t1 - t0,
                "process_s": t2 - t1,
                "intersect_s": t3 - t2,
                "total_s": t3 - t0,
                "cpu_s": cpu_s,
                "request_bytes": len(request.SerializeToString()),
                "response_bytes": len(response.SerializeToString()),
                "hits": sorted(int(i) for i in hits),
            }
        )

    return {
        "structure": a.structure,
        "records": len(holder),
        "fpr": fpr,
        "num_client_inputs": largest,
        "setup_s": setup_s,
        "setup_cpu_s": setup_cpu_s,
        "maxrss_bytes": maxrss,
        "setup_bytes": setup_bytes,
        "queries": out,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("version")
    r = sub.add_parser("run")
    r.add_argument("--structure", choices=["bloom", "gcs"], required=True)
    r.add_argument("--holder", required=True)
    r.add_argument("--query", action="append", required=True)
    r.add_argument("--fp-per-lookup", type=float, required=True)
    a = p.parse_args()
    result = version() if a.cmd == "version" else run(a)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
