"""``blurvid train --enc-blocks/--middle-blocks/--dec-blocks/--g-init``: G's architecture
(and its initialisation) from the CLI."""

from __future__ import annotations

import pytest
from test_train_cli import TINY, train_cli, write_photos

from blurvid import load_model

pytestmark = [pytest.mark.usefixtures("fast_cpu")]


def test_architecture_options_build_that_g(tmp_path):
    photos = write_photos(tmp_path / "photos")
    rc = train_cli("--data", f"photos:{photos}", "--out", tmp_path / "run", "--steps", 2,
                   "--recipe", "fast", "--enc-blocks", "1,2", "--dec-blocks", "1,1",
                   "--middle-blocks", "3", "--g-init", "kaiming", *TINY)  # fmt: skip
    assert rc == 0
    cfg = load_model(tmp_path / "run" / "base" / "model").config
    assert (cfg.width, cfg.enc_blocks, cfg.dec_blocks, cfg.middle_blocks) == (8, (1, 2), (1, 1), 3)
    assert cfg.init == "kaiming"


def test_unparsable_block_list_is_an_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_cli("--data", "photos:x", "--out", tmp_path / "run", "--enc-blocks", "1,x")
    assert "comma-separated integers like 1,1,2, got '1,x'" in capsys.readouterr().err


def test_inconsistent_architecture_is_a_one_line_error(tmp_path, capsys):
    photos = write_photos(tmp_path / "photos")
    rc = train_cli("--data", f"photos:{photos}", "--out", tmp_path / "run",
                   "--enc-blocks", "1,1", "--dec-blocks", "1,1,1", *TINY)  # fmt: skip
    assert rc != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "same, non-zero number of levels" in err[0]
