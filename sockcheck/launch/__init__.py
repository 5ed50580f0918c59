"""Starting targets: the manifest, the launcher and its builds, the sandbox, the worker's
network namespace, port allocation and the process tree a target leaves."""
