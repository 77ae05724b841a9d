"""The model zoo: task family → trained population → stored zoo.

In: a spec (`specs/*.toml`, `spec.py`). Out: a verified `Zoo` folder (`store.py`), the same bytes on
every machine. Read in this order: `tasks.py` (what a network is trained on), `population.py`
(M networks trained as stacked tensors with `exact.py`'s arithmetic), `build.py` (spec → folder),
`store.py` (the folder), `source.py` (where `load_zoo` gets a zoo from: cache, hub or a build).
"""
