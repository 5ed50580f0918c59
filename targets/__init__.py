"""The bundled targets: targets.toml and the servers it names (c/, py/, faulty/), shipped as
sockcheck.targets so that the installed command finds them."""
