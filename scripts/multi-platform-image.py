#!/usr/bin/env python3
"""Turns a `docker save` archive of one linux/amd64 image into an OCI archive of a two-platform
image (amd64 and an arm64 twin sharing its layers, the twin's config saying arm64), tagged NAME.
With --missing, the arm64 manifest and config are left out, as a pull of a multi-platform image
leaves them on Docker's containerd image store (the case of kind #3795). For
scripts/check-docker28.sh, which has no registry and no buildx to make one.

    multi-platform-image.py SAVED.tar NAME OUT.tar [--missing]
"""
import hashlib
import io
import json
import sys
import tarfile


def main():
    src, name, out = sys.argv[1:4]
    missing = "--missing" in sys.argv[4:]
    blobs = {}
    with tarfile.open(src) as t:
        for m in t.getmembers():
            if m.isfile():
                blobs[m.name] = t.extractfile(m).read()
    index = json.loads(blobs["index.json"])
    desc = index["manifests"][0]
    manifest = json.loads(blobs["blobs/sha256/" + desc["digest"].split(":")[1]])
    if "manifests" in manifest:  # already an index (containerd store): take its first image
        desc = manifest["manifests"][0]
        manifest = json.loads(blobs["blobs/sha256/" + desc["digest"].split(":")[1]])
    config = json.loads(blobs["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])

    def put(obj):
        data = json.dumps(obj, separators=(",", ":")).encode()
        digest = hashlib.sha256(data).hexdigest()
        return data, digest

    config["architecture"] = "arm64"
    config_data, config_digest = put(config)
    twin = dict(manifest)
    twin["config"] = dict(manifest["config"], digest="sha256:" + config_digest, size=len(config_data))
    twin_data, twin_digest = put(twin)
    amd64 = {"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"],
             "platform": {"architecture": "amd64", "os": "linux"}}
    arm64 = {"mediaType": desc["mediaType"], "digest": "sha256:" + twin_digest, "size": len(twin_data),
             "platform": {"architecture": "arm64", "os": "linux"}}
    image_index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": [amd64, arm64]}
    index_data, index_digest = put(image_index)
    top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": [{"mediaType": image_index["mediaType"], "digest": "sha256:" + index_digest,
                          "size": len(index_data),
                          "annotations": {"io.containerd.image.name": "docker.io/" + name,
                                          "org.opencontainers.image.ref.name": name.split(":")[-1]}}]}
    files = {k: v for k, v in blobs.items() if k.startswith("blobs/")}
    files["blobs/sha256/" + index_digest] = index_data
    if not missing:
        files["blobs/sha256/" + config_digest] = config_data
        files["blobs/sha256/" + twin_digest] = twin_data
    files["index.json"] = json.dumps(top).encode()
    files["oci-layout"] = b'{"imageLayoutVersion":"1.0.0"}'
    with tarfile.open(out, "w") as t:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


main()
