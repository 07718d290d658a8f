"""k3srt: a k3s-compatible TEST RUNTIME for edgefleet.k3s.

This is test infrastructure. It stands in for the real k3s binary, which cannot be downloaded in this
project's development and CI environment. It mimics the k3s surfaces the collection touches (CLI, config
files, data-dir layout, tokens, supervisor endpoints, a Kubernetes API subset, embedded etcd via a real etcd
process, snapshots, nvidia runtime detection). It is never shipped in the collection.
"""
