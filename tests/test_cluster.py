"""offcut.cluster on a local Dask cluster of two worker processes: the same files as the CLI.

Dask is in the ``test`` extra (and ``distributed``), so this runs in CI's default run; the
cluster starts in a few seconds and the photos are small.
"""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image

from offcut import cli
from offcut.decode import decode
from offcut.errors import OffcutError
from support import jpeg_bytes


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def test_a_two_worker_cluster_writes_the_clis_files(tmp_path, photo, client):
    from offcut.cluster import remove_files

    image = Image.open(io.BytesIO(photo[1])).convert("RGB")
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for number, box in enumerate([(0, 0, 400, 400), (50, 20, 450, 480), (300, 0, 700, 400)]):
        where = folder / "sub" if number == 2 else folder
        (where / f"shot{number}.jpg").write_bytes(
            jpeg_bytes(np.asarray(image.crop(box).resize((200, 180)))))
    broken = b"\xff\xd8\xff\xe0 not a photo"
    (folder / "broken.jpg").write_bytes(broken)
    flags = ["--bg", "white", "--format", "jpeg", "--crop"]
    by_cli = tmp_path / "cli"
    assert cli.main(["--model", "u2netp", str(folder), "-o", str(by_cli), "-q", *flags]) == 1

    by_cluster = tmp_path / "cluster"
    report = remove_files(client, [folder], by_cluster, model="u2netp", threads=1,
                          background="white", format="jpeg", crop=True)
    assert report.summary() == "3 done, 1 failed, 0 skipped (of 4)"
    with pytest.raises(OffcutError) as raised:  # the code the CLI prints for it
        decode(broken)
    assert any(f"broken.jpg: [{raised.value.code}]" in line for line in report.lines), \
        report.lines
    made = sorted(p.name for p in by_cluster.iterdir())
    assert made == sorted(p.name for p in by_cli.iterdir()) and len(made) == 3
    for name in made:
        assert (by_cluster / name).read_bytes() == (by_cli / name).read_bytes(), name
    # Each worker process loaded its model once and kept it.
    loaded = client.run(lambda: sorted(key[0] for key in
                                       __import__("offcut.api").api._removers))
    assert set(map(tuple, loaded.values())) <= {("u2netp",), ()}
    assert any(value == ["u2netp"] for value in loaded.values())

    again = remove_files(client, [folder], by_cluster, model="u2netp", threads=1,
                         background="white", format="jpeg", crop=True)
    assert len(again.skipped) == 3 and not again.written  # a rerun resumes, as the CLI


def test_bad_options_fail_on_the_client_before_any_task(tmp_path, client):
    from offcut.cluster import remove_files

    with pytest.raises(OffcutError) as raised:
        remove_files(client, [tmp_path], tmp_path / "out", model="u2netp", quality=0)
    assert raised.value.code == "invalid-option"
