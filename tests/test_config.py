import pytest

from sp404d import config
from sp404d.errors import ConfigError


def test_packaged_defaults_load_with_the_documented_keys(monkeypatch, tmp_path):
    monkeypatch.delenv("SP404D_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cfg = config.load()
    assert cfg.library_path.name == "library.db"
    assert [p.name for p in cfg.watch_folders] == ["Drop"] and cfg.watch_folders[0].parent.name == "SP404"
    assert cfg.settle_seconds == 1.0 and cfg.rescan_minutes == 15 and cfg.workers == 0
    assert cfg.socket_path == tmp_path / "run" / "sp404d" / "sp404d.sock"
    assert cfg.worker_count >= 1


def test_user_file_overrides_and_env_var_is_used(monkeypatch, tmp_path):
    user = tmp_path / "mine.toml"
    user.write_text('[watch]\nsettle_seconds = 0.25\nfolders = ["~/Samples"]\n[analysis]\nworkers = 3\n')
    monkeypatch.setenv("SP404D_CONFIG", str(user))
    cfg = config.load()
    assert cfg.settle_seconds == 0.25 and cfg.workers == 3 and cfg.rescan_minutes == 15
    assert cfg.source[-1] == str(user)


@pytest.mark.parametrize("text,needle", [
    ("[watch]\nsettle_seconds = 'slow'\n", "watch.settle_seconds"),
    ("[watch]\nsettel_seconds = 1\n", "unknown key watch.settel_seconds"),
    ("[analysis]\nworkers = -1\n", "analysis.workers"),
    ("[nope]\nx = 1\n", "unknown section [nope]"),
    ("[watch\n", "not valid TOML"),
    ("[watch]\nfolders = '/one'\n", "watch.folders"),
])
def test_bad_values_name_the_key_and_the_file(tmp_path, text, needle):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load(f)
    assert needle in str(e.value) and str(f) in str(e.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        config.load(tmp_path / "absent.toml")


def test_runtime_dir_never_falls_back_to_shared_tmp(monkeypatch):
    from sp404d import paths

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    assert not str(paths.runtime_dir()).startswith("/tmp/runtime-")
