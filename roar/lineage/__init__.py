"""The lineage core: the rules of provenance (docs/lineage.md), written once.

`source` is the interface the rules read (implemented over the object
store in `objectsource` and over the session index in `roar.index.source`);
`chain`, `producers`, `dag`, `closure` and `resolve` are the rules, pure
functions over a source; `views` shapes their results for the commands.
"""
