"""Checks what the Kubernetes schemas cannot: that the sweep Job and the report Job
agree with each other and with inferbench's flags, and that any further Indexed Job
given (the tune Job) is sharded as the sweep Job is, and that an `llm` Job is one
CPU-only pod aimed at an OpenAI-compatible target. Run by scripts/deploy-lint.sh.

- each Indexed Job (sweep, tune) has completions = parallelism = --shards;
- each pod asks for exactly one GPU and selects one GPU type by node label;
- the llm Job: one pod (no parallelism: pods sharing one server change its figures),
  no GPU (the client needs none), an openai:// target, results on the volume;
- the llm shards Job (`llm --shards N`): Indexed, completions = parallelism = --shards,
  each pod's own server as a native sidecar (an init container with restartPolicy
  Always and a startup probe on the port the client targets over loopback), given
  rates (not auto) at least as many as shards, results into a folder on the volume;
- both Jobs mount the same results claim, and the report reads the folder the
  shards write.
"""

import sys

import yaml


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def flag(args, name):
    if name not in args:
        sys.exit(f"check-manifests: {name} missing from {args}")
    return args[args.index(name) + 1]


def sharding_problems(spec, shards, what):
    """An Indexed Job whose completions and parallelism are its --shards."""
    problems = []
    if spec.get("completionMode") != "Indexed":
        problems.append(f"{what} is not completionMode: Indexed")
    if not spec.get("completions") == spec.get("parallelism") == shards:
        problems.append(
            f"{what}: completions {spec.get('completions')}, parallelism "
            f"{spec.get('parallelism')} and --shards {shards} differ"
        )
    return problems


def only_container(job):
    """A Job's spec, pod spec, its one container and that container's args."""
    spec = job["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    return spec, pod, container, container["args"]


def on_volume(container, path):
    """Whether `path` lies on one of the container's mounted volumes."""
    mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
    return any(path.startswith(m + "/") for m in mounts)


def indexed_job_problems(job, name):
    """What is wrong with an Indexed Job of shards; returns (problems, shards, args)."""
    spec, pod, shard, args = only_container(job)
    shards = int(flag(args, "--shards"))
    problems = sharding_problems(spec, shards, f"the {name} Job")
    for kind in ("requests", "limits"):
        gpus = shard["resources"][kind].get("nvidia.com/gpu")
        if gpus != 1:
            problems.append(f"a {name} shard {kind} {gpus} GPUs, not 1")
    if not any(k.startswith("nvidia.com/gpu") for k in pod.get("nodeSelector", {})):
        problems.append(f"the {name} Job has no nodeSelector for the GPU type")
    return problems, shards, args


def client_gpu_problems(client, name):
    """An llm client needs no GPU: one it asks for is a GPU idle for the whole Job."""
    return [
        f"{name}: the llm client {kind} a GPU it does not use"
        for kind in ("requests", "limits")
        if "nvidia.com/gpu" in client["resources"].get(kind, {})
    ]


def llm_job_problems(job, name):
    """What is wrong with an `inferbench llm` Job."""
    spec, _, client, args = only_container(job)
    problems = []
    if spec.get("parallelism", 1) != 1 or spec.get("completions", 1) != 1:
        problems.append(f"{name}: an llm Job runs one pod; pods sharing a server change its figures")
    problems += client_gpu_problems(client, name)
    if not flag(args, "--target").startswith("openai://"):
        problems.append(f"{name}: --target is not an openai:// URL")
    if not on_volume(client, flag(args, "--out")):
        problems.append(f"{name}: --out is not on a mounted volume: {flag(args, '--out')}")
    return problems


def llm_shards_job_problems(job, name):
    """What is wrong with an `inferbench llm --shards N` Job (a server beside each shard)."""
    spec, pod, client, args = only_container(job)
    shards = int(flag(args, "--shards"))
    problems = sharding_problems(spec, shards, name)
    problems += client_gpu_problems(client, name)
    target = flag(args, "--target")
    host_port = target.removeprefix("openai://").split("/")[0]
    host, _, port = host_port.partition(":")
    if host not in ("127.0.0.1", "localhost"):
        problems.append(f"{name}: --target {target} is not the server beside the shard (loopback)")
    sidecars = [c for c in pod.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    if len(sidecars) != 1:
        problems.append(f"{name}: expected one server sidecar (an init container with restartPolicy: Always), found {len(sidecars)}")
    else:
        probe = sidecars[0].get("startupProbe", {}).get("httpGet", {})
        if str(probe.get("port")) != port:
            problems.append(f"{name}: the server's startup probe checks port {probe.get('port')}, the client targets {port}")
        if "nvidia.com/gpu" in sidecars[0]["resources"].get("limits", {}) and not any(
            k.startswith("nvidia.com/gpu") for k in pod.get("nodeSelector", {})
        ):
            problems.append(f"{name}: the replicas' GPU type is not pinned by a nodeSelector")
    rates = flag(args, "--rates")
    if rates == "auto":
        problems.append(f"{name}: --rates auto: each shard would take its own replica's capacity")
    elif len(rates.split(",")) < shards:
        problems.append(f"{name}: {len(rates.split(','))} rates for {shards} shards: some pods measure nothing")
    out = flag(args, "--out")
    if out.endswith(".jsonl") or not on_volume(client, out):
        problems.append(f"{name}: --out is not a folder on a mounted volume: {out}")
    return problems


def main(sweep_path, report_path, *indexed_paths):
    sweep, report = load(sweep_path), load(report_path)
    problems, shards, args = indexed_job_problems(sweep, "sweep")
    others = [load(p) for p in indexed_paths]
    indexed = []
    for path, job in zip(indexed_paths, others):
        job_args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        if job_args[0] == "llm" and "--shards" in job_args:
            problems += llm_shards_job_problems(job, path)
            continue
        if job_args[0] == "llm":
            problems += llm_job_problems(job, path)
            continue
        indexed.append(path)
        found, _, job_args = indexed_job_problems(job, path)
        problems += found
        if job_args[0] == "tune" and "--follow" not in job_args:
            problems.append(f"{path}: a tune Job's shards need --follow to go on past round 0")
    (merge,) = report["spec"]["template"]["spec"]["containers"]
    if flag(merge["args"], "--input") != flag(args, "--out"):
        problems.append("the report does not read the folder the shards write")
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for job in (sweep, report, *others)
        for v in job["spec"]["template"]["spec"]["volumes"]
    }
    if len(claims) != 1:
        problems.append(f"the Jobs mount different results volumes: {sorted(claims)}")
    for p in problems:
        print(f"check-manifests: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(
        f"check-manifests: {shards} shards, one GPU each, one results volume: consistent "
        f"({1 + len(indexed)} Indexed Job(s), {len(others) - len(indexed)} llm Job(s))"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
