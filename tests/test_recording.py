"""utils.recording: what a record keeps of its command line."""

from utils.recording import REPO, portable_argv


def test_paths_in_a_record_name_no_machines_folders():
    argv = ["--output-dir", str(REPO / "utils" / "results"), "--reviews", "64"]
    argv += ["--run-dir", "/scratch/someone/runs", "--pool=2000"]
    assert portable_argv(argv) == [
        "--output-dir",
        "utils/results",
        "--reviews",
        "64",
        "--run-dir",
        "runs",
        "--pool=2000",
    ]
