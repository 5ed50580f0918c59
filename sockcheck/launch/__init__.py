"""Starting targets: the manifest, their builds, the launcher with its readiness wait and output
log, the sandbox, the worker's network namespace, port allocation and the process tree a target leaves."""
