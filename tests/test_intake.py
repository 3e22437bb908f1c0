"""Intake of hand-ins: LMS zips (safely extracted), timestamps, lateness and the roster."""

import os
import shutil
import stat
import zipfile
from datetime import datetime, timedelta, timezone

import nbformat
import pytest

from coursekit.grading.intake import (
    ID_RULE,
    MOODLE_PATTERN,
    IntakeError,
    OptionError,
    Submission,
    collect,
    describe_delay,
    normalise_student,
    read_roster,
)

UTC = timezone.utc
NOTEBOOK = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]))
MAY_1 = (2024, 5, 1, 10, 0, 0)


def make_zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    """Write a zip of ``(name, data, date_time)`` entries; data may be str or bytes."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data, when in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return path


def write_nb(path, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NOTEBOOK)
    if mtime is not None:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# -- Canvas zips ----------------------------------------------------------------------------------


def test_canvas_zip_gives_students_notebooks_and_times(tmp_path):
    archive = make_zip(tmp_path / "canvas.zip", [
        ("doejane_123_456_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("smithbob_late_789_1011_perceptron.ipynb", NOTEBOOK, (2024, 5, 2, 14, 5, 0)),
        ("o_brien_12_34_perceptron.ipynb", NOTEBOOK, (2024, 4, 30, 23, 59, 30)),
    ])
    work = tmp_path / "work"
    subs, skipped = collect(archive, ["perceptron"], workdir=work)
    by = {s.student: s for s in subs}
    assert list(by) == ["doejane", "o_brien", "smithbob"]
    assert skipped == []
    assert by["doejane"].notebooks["perceptron"] == (work / "doejane" / "perceptron.ipynb").resolve()
    assert by["doejane"].notebooks["perceptron"].read_text() == NOTEBOOK
    assert by["doejane"].submitted_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert by["o_brien"].submitted_at == datetime(2024, 4, 30, 23, 59, 30, tzinfo=UTC)
    assert by["smithbob"].notes == ["the LMS marked this submission late"]
    assert by["doejane"].notes == [] and not any(s.failures for s in subs)
    assert all(s.late_by is None for s in subs)  # no due date given


def test_zip_times_are_read_in_the_given_zone(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", NOTEBOOK, (2024, 7, 1, 12, 0, 0))])
    plus_two = timezone(timedelta(hours=2))
    (sub,), _ = collect(archive, ["perceptron"], workdir=tmp_path / "w", tz=plus_two)
    assert sub.submitted_at == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert sub.submitted_at.tzinfo == UTC


def test_newest_notebook_gives_the_time_and_several_notebooks_are_paired(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [
        ("ann_1_2_forward.ipynb", NOTEBOOK, (2024, 5, 1, 9, 0, 0)),
        ("ann_1_3_backward.ipynb", NOTEBOOK, (2024, 5, 1, 11, 30, 0)),
    ])
    (sub,), _ = collect(archive, ["forward", "backward"], workdir=tmp_path / "w")
    assert sorted(sub.notebooks) == ["backward", "forward"]
    assert sub.submitted_at == datetime(2024, 5, 1, 11, 30, tzinfo=UTC)


def test_a_zip_refuses_a_due_date(tmp_path):
    # An LMS writes its own times in the zip (Canvas: when the zip was built), not the hand-in's.
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1)])
    with pytest.raises(OptionError, match="a due date cannot be judged from a zip"):
        collect(archive, ["perceptron"], workdir=tmp_path / "w", due=datetime(2024, 5, 2, tzinfo=UTC))
    assert not (tmp_path / "w").exists()


def test_naive_due_is_read_in_tz(tmp_path):
    # Due 14:00 at UTC+2 is 12:00 UTC; handed in at 12:20 UTC. Read as UTC, the due date would be
    # 14:00 UTC and the hand-in on time.
    write_nb(tmp_path / "ann" / "perceptron.ipynb", mtime=datetime(2024, 5, 2, 12, 20, tzinfo=UTC))
    plus_two = timezone(timedelta(hours=2))
    (sub,), _ = collect(tmp_path, ["perceptron"], tz=plus_two, due=datetime(2024, 5, 2, 14, 0))
    assert sub.late_by == timedelta(minutes=20)
    assert sub.notes == ["late by 20 min"]


def test_delays_read_naturally():
    assert describe_delay(timedelta(seconds=45)) == "45 s"
    assert describe_delay(timedelta(minutes=7, seconds=59)) == "7 min"
    assert describe_delay(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert describe_delay(timedelta(days=3, minutes=10)) == "3 d 0 h 10 min"


# -- safety ---------------------------------------------------------------------------------------


def test_zip_slip_entries_are_refused_and_nothing_lands_outside(tmp_path):
    unsafe = [
        "../evil_1_2_perceptron.ipynb",
        "/abs_1_2_perceptron.ipynb",
        "a/../../up_1_2_perceptron.ipynb",
        "..\\back_1_2_perceptron.ipynb",
        "C:/win_1_2_perceptron.ipynb",
    ]
    archive = make_zip(tmp_path / "c.zip", [(name, NOTEBOOK, MAY_1) for name in unsafe]
                       + [("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1)])
    inner = tmp_path / "deep" / "work"
    subs, skipped = collect(archive, ["perceptron"], workdir=inner)
    assert [s.student for s in subs] == ["ann"]
    assert skipped == [f"{name}: unsafe path (absolute or with '..'); not extracted" for name in unsafe]
    assert files_under(tmp_path) == ["c.zip", "deep/work/ann/perceptron.ipynb"]


def test_symlinks_are_skipped_and_directories_ignored(tmp_path):
    link = zipfile.ZipInfo("ann_1_2_perceptron.ipynb", date_time=MAY_1)
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = tmp_path / "c.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(link, "/etc/passwd")
        zf.writestr(zipfile.ZipInfo("bob_3_4_folder/", date_time=MAY_1), "")
        zf.writestr(zipfile.ZipInfo("bob_3_4_perceptron.ipynb", date_time=MAY_1), NOTEBOOK)
    work = tmp_path / "work"
    subs, skipped = collect(archive, ["perceptron"], workdir=work)
    assert [s.student for s in subs] == ["bob"]
    assert skipped == ["ann_1_2_perceptron.ipynb: a symbolic link; not extracted"]
    assert files_under(work) == ["bob/perceptron.ipynb"]
    assert not any(p.is_symlink() for p in work.rglob("*"))


def test_size_caps(tmp_path):
    big = NOTEBOOK + " " * 5000  # trailing spaces keep it a valid notebook
    archive = make_zip(tmp_path / "c.zip", [
        ("ann_1_2_perceptron.ipynb", big, MAY_1),
        ("bob_3_4_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("cy_5_6_perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    small = len(NOTEBOOK.encode())
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w1", max_entry_bytes=small + 10)
    by = {s.student: s for s in subs}
    assert skipped == [f"ann_1_2_perceptron.ipynb: {len(big)} bytes uncompressed, over the cap of "
                       f"{small + 10} bytes per file"]
    # ann did hand it in: her failure says why it was not graded
    assert by["ann"].failures == {
        "perceptron": f"perceptron.ipynb {len(big)} bytes uncompressed, over the cap of {small + 10} "
                      "bytes per file"}
    assert "perceptron" in by["bob"].notebooks and "perceptron" in by["cy"].notebooks

    # the total cap leaves room for the big notebook and one small one, not two
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w2",
                            max_total_bytes=len(big) + small + 1)
    assert skipped == ["cy_5_6_perceptron.ipynb: not extracted: the zip's files would pass the cap of "
                       f"{len(big) + small + 1} bytes in all"]
    assert files_under(tmp_path / "w2") == ["ann/perceptron.ipynb", "bob/perceptron.ipynb"]
    cy = next(s for s in subs if s.student == "cy")
    assert cy.failures == {"perceptron": "perceptron.ipynb not extracted: the zip's files would pass the "
                                         f"cap of {len(big) + small + 1} bytes in all"}


def test_entry_count_cap(tmp_path):
    entries = [(f"s{i}_1_2_perceptron.ipynb", NOTEBOOK, MAY_1) for i in range(5)]
    archive = make_zip(tmp_path / "c.zip", entries)
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w", max_entries=3)
    assert [s.student for s in subs] == ["s0", "s1", "s2"]
    assert skipped == ["c.zip: 2 entries not read; the zip holds 5, over the cap of 3"]


def test_corrupt_zip_raises_a_clear_error(tmp_path):
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"this is not a zip at all")
    with pytest.raises(IntakeError, match="garbage.zip is not a readable zip file"):
        collect(garbage, ["perceptron"], workdir=tmp_path / "w")
    whole = make_zip(tmp_path / "whole.zip", [("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1)]).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IntakeError, match="cut.zip is not a readable zip file"):
        collect(cut, ["perceptron"], workdir=tmp_path / "w")


def test_a_damaged_entry_is_skipped_and_the_rest_is_read(tmp_path):
    marker = b"UNIQUE-MARKER-TEXT"
    damaged = NOTEBOOK.replace('"1 + 1"', f'"{marker.decode()}"')
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", damaged, MAY_1),
                                            ("bob_3_4_perceptron.ipynb", NOTEBOOK, MAY_1)],
                       compression=zipfile.ZIP_STORED)
    data = archive.read_bytes()
    archive.write_bytes(data.replace(marker, marker.lower()))  # the stored CRC no longer fits
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    by = {s.student: s for s in subs}
    assert len(skipped) == 1
    assert skipped[0].startswith("ann_1_2_perceptron.ipynb: cannot be read from the zip")
    # ann did hand it in: her failure says why it could not be graded
    assert by["ann"].failures == {
        "perceptron": "perceptron.ipynb cannot be read from the zip (Bad CRC-32 for file "
                      "'ann_1_2_perceptron.ipynb')"}
    assert "perceptron" in by["bob"].notebooks
    assert files_under(tmp_path / "w") == ["bob/perceptron.ipynb"]


# -- names ----------------------------------------------------------------------------------------


def test_entries_that_do_not_match_are_skipped_with_the_reason(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [
        ("readme.txt", "hello", MAY_1),
        ("perceptron.ipynb", NOTEBOOK, MAY_1),
        ("ann_1_2_screenshot.png", b"\x89PNG", MAY_1),
        ("__MACOSX/._ann_1_2_perceptron.ipynb", b"resource fork", MAY_1),
        (".DS_Store", b"finder", MAY_1),
    ])
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert [s.student for s in subs] == ["ann"]  # she handed in something, just not the notebook
    assert subs[0].failures == {"perceptron": "no perceptron.ipynb handed in"}
    assert len(skipped) == 3
    assert skipped[0].startswith("readme.txt: does not match the submission pattern")
    assert skipped[1].startswith("perceptron.ipynb: does not match the submission pattern")
    assert skipped[2] == "ann_1_2_screenshot.png: not a .ipynb file"


def test_moodle_folders_with_a_custom_pattern(tmp_path):
    archive = make_zip(tmp_path / "moodle.zip", [
        ("Jane Doe_12345_assignsubmission_file_/", b"", MAY_1),
        ("Jane Doe_12345_assignsubmission_file_/perceptron.ipynb", NOTEBOOK, MAY_1),
        ("José Núñez_222_assignsubmission_file_/work/deep/perceptron.ipynb", NOTEBOOK, (2024, 5, 3, 8, 0, 0)),
        ("Bob Lee_333_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>", MAY_1),
    ])
    work = tmp_path / "w"
    subs, skipped = collect(archive, ["perceptron"], pattern=MOODLE_PATTERN, workdir=work)
    by = {s.student: s for s in subs}
    assert list(by) == ["janedoe", "josenunez"]
    assert by["josenunez"].notebooks["perceptron"] == (work / "josenunez" / "perceptron.ipynb").resolve()
    assert by["josenunez"].submitted_at == datetime(2024, 5, 3, 8, 0, tzinfo=UTC)
    assert len(skipped) == 1 and skipped[0].startswith("Bob Lee_333_assignsubmission_onlinetext_/onlinetext")
    assert files_under(work) == ["janedoe/perceptron.ipynb", "josenunez/perceptron.ipynb"]


def test_names_become_ids(tmp_path):
    assert normalise_student("José O'Neil") == "joseoneil"
    assert normalise_student("DOE, Jane") == "doejane"
    assert normalise_student("a.b-c+d@x") == "a.b-c+d@x"
    assert normalise_student("Łukasz Nowak") == "łukasznowak"  # not "ukasznowak"
    archive = make_zip(tmp_path / "c.zip", [
        ("日本_1_2_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("Ann Lee_1_assignsubmission_file_/perceptron.ipynb", NOTEBOOK, MAY_1),
        ("ann lee_2_assignsubmission_file_/perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w", pattern=MOODLE_PATTERN)
    assert [s.student for s in subs] == ["annlee_1", "annlee_2"]  # two people, by their LMS ids
    assert skipped == ["日本_1_2_perceptron.ipynb: does not match the submission pattern "
                       f"{MOODLE_PATTERN!r}"]
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w2")
    assert [s.student for s in subs] == ["日本"] and len(skipped) == 2


def test_a_name_with_nothing_usable_gives_the_lms_id(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [("!!!_77_2_perceptron.ipynb", NOTEBOOK, MAY_1)])
    (sub,), skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert sub.student == "77" and skipped == []


def test_two_names_giving_one_id_without_lms_ids_keep_the_first(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [
        ("Ann Lee/perceptron.ipynb", NOTEBOOK, MAY_1),
        ("ann lee/perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w",
                            pattern=r"(?P<student>[^/]+)/(?P<filename>[^/]+)")
    assert [s.student for s in subs] == ["annlee"]
    assert skipped == ["ann lee/perceptron.ipynb: 'ann lee' and 'Ann Lee' both give the id 'annlee'; "
                       "only 'Ann Lee' is used"]


def test_students_of_one_name_in_canvas_are_told_apart_by_user_id(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [
        ("smithjohn_111_1_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("smithjohn_222_2_perceptron.ipynb", NOTEBOOK.replace("1 + 1", "2"), MAY_1),
        ("doejane_333_3_perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert [s.student for s in subs] == ["doejane", "smithjohn_111", "smithjohn_222"] and skipped == []
    assert subs[1].notebooks["perceptron"].read_text() == NOTEBOOK
    assert subs[2].notebooks["perceptron"].read_text() == NOTEBOOK.replace("1 + 1", "2")


def test_a_roster_of_user_ids_keeps_a_namesakes_id_across_assignments(tmp_path):
    # In the first zip both John Smiths handed in, so their ids take their user ids; in the second
    # only one did, and the name alone names him. A roster of user ids gives him one id in both.
    first = make_zip(tmp_path / "a1.zip", [
        ("smithjohn_111_1_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("smithjohn_222_2_perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    second = make_zip(tmp_path / "a2.zip", [("smithjohn_222_3_perceptron.ipynb", NOTEBOOK, MAY_1)])
    roster = tmp_path / "r.csv"
    roster.write_text("Student,ID\nSmith John,111\nSmith John,222\n")
    ids = {}
    for name, archive in (("first", first), ("second", second)):
        without = collect(archive, ["perceptron"], workdir=tmp_path / f"{name}-plain")[0]
        ids[name] = [s.student for s in without]
        with_roster = collect(archive, ["perceptron"], workdir=tmp_path / name, roster=roster)[0]
        ids[f"{name}, roster"] = {s.student: s.failures for s in with_roster}
    assert ids["first"] == ["smithjohn_111", "smithjohn_222"] and ids["second"] == ["smithjohn"]
    assert ids["first, roster"] == {"111": {}, "222": {}}
    assert ids["second, roster"] == {"111": {"perceptron": "no submission handed in"}, "222": {}}


def test_an_entry_whose_name_is_too_long_to_extract_is_reported(tmp_path):
    long_name = "doejane_113_902_" + "é" * 130 + ".ipynb"
    archive = make_zip(tmp_path / "c.zip", [
        (long_name, NOTEBOOK, MAY_1),
        ("roejohn_114_903_perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert [s.student for s in subs] == ["doejane", "roejohn"]
    assert skipped == [f"{long_name}: cannot be extracted (File name too long)"]
    assert subs[0].failures == {"perceptron": "no perceptron.ipynb handed in"}  # and skipped says why


def test_of_two_entries_of_one_name_the_one_handed_in_later_is_graded(tmp_path):
    # Canvas's submission ids grow with time; its entry times are all the zip's.
    later = NOTEBOOK.replace("1 + 1", "2 + 2")
    archive = make_zip(tmp_path / "c.zip", [
        ("ann_1_9_perceptron.ipynb", later, MAY_1),
        ("ann_1_3_perceptron.ipynb", NOTEBOOK, (2024, 5, 2, 9, 0, 0)),
        ("bob_2_4_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("bob_2_5_perceptron.ipynb", later, MAY_1),
    ])
    subs, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w", tz=UTC)
    assert skipped == [
        "ann_1_3_perceptron.ipynb: a second perceptron.ipynb for ann, not handed in later than the one "
        "graded; not used",
        "bob_2_4_perceptron.ipynb: a later perceptron.ipynb for bob is graded instead "
        "(bob_2_5_perceptron.ipynb)",
    ]
    assert [s.notebooks["perceptron"].read_text() for s in subs] == [later, later]
    assert files_under(tmp_path / "w") == ["ann/perceptron.ipynb", "bob/perceptron.ipynb"]


def test_without_submission_ids_the_zips_times_order_two_entries(tmp_path):
    later = NOTEBOOK.replace("1 + 1", "2 + 2")
    with pytest.warns(UserWarning, match="Duplicate name"):  # a zip may hold one name twice
        archive = make_zip(tmp_path / "c.zip", [
            ("ann/perceptron.ipynb", NOTEBOOK, (2024, 5, 2, 9, 0, 0)),
            ("ann/perceptron.ipynb", later, MAY_1),  # handed in earlier: not used
            ("bob/perceptron.ipynb", NOTEBOOK, MAY_1),
            ("bob/perceptron.ipynb", later, (2024, 5, 2, 9, 0, 0)),
        ])
    subs, _ = collect(archive, ["perceptron"], workdir=tmp_path / "w", tz=UTC,
                      pattern=r"(?P<student>[^/]+)/(?P<filename>[^/]+)")
    assert [s.notebooks["perceptron"].read_text() for s in subs] == [NOTEBOOK, later]


def test_an_entry_with_a_submission_id_and_one_without_are_not_ordered(tmp_path):
    # An optional id group: one entry gives an id, the other only the zip's time.
    archive = make_zip(tmp_path / "c.zip", [
        ("ann/7/perceptron.ipynb", NOTEBOOK, MAY_1),
        ("ann/perceptron.ipynb", NOTEBOOK.replace("1 + 1", "2 + 2"), (2024, 5, 2, 9, 0, 0)),
    ])
    (sub,), skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w",
                              pattern=r"(?P<student>[^/]+)/(?:(?P<submission_id>\d+)/)?(?P<filename>[^/]+)")
    assert skipped == ["ann/perceptron.ipynb: a second perceptron.ipynb for ann, not handed in later "
                       "than the one graded; not used"]
    assert sub.notebooks["perceptron"].read_text() == NOTEBOOK


def test_a_later_copy_that_cannot_be_graded_leaves_the_earlier_one(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [
        ("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("ann_1_3_perceptron.ipynb", "x" * 5000, MAY_1),
        ("ann_1_4_perceptron.ipynb", "{}", MAY_1),
    ])
    (sub,), skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w", tz=UTC,
                              max_entry_bytes=4000)
    assert skipped == [
        "ann_1_3_perceptron.ipynb: a later perceptron.ipynb for ann, not used (5000 bytes uncompressed, "
        "over the cap of 4000 bytes per file); the earlier one is graded",
        "ann_1_4_perceptron.ipynb: a later perceptron.ipynb for ann, not used (not a valid notebook: no "
        "list of cells); the earlier one is graded",
    ]
    assert sub.notebooks["perceptron"].read_text() == NOTEBOOK
    assert files_under(tmp_path / "w") == ["ann/perceptron.ipynb"]


def test_two_copies_in_a_zip_extracted_to_a_relative_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1),
                                            ("ann_1_3_perceptron.IPYNB", NOTEBOOK, MAY_1)])
    (sub,), _ = collect(archive, ["perceptron"], workdir="w")
    assert sub.notes == ["perceptron.ipynb handed in 2 times; graded perceptron.IPYNB"]


def test_an_id_too_long_to_name_a_file_falls_back_to_the_lms_id(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [("张" * 90 + "_55_1_perceptron.ipynb", NOTEBOOK, MAY_1)])
    (sub,), skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert sub.student == "55" and skipped == [] and sub.failures == {}


def test_broken_notebooks_in_a_zip_are_reported(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", "", MAY_1)])
    (sub,), _ = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert sub.failures == {"perceptron": "the file is empty"}


def test_extracting_again_into_the_same_workdir_works(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1)])
    first, _ = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    second, skipped = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert skipped == [] and first == second


def test_without_workdir_a_temporary_folder_is_used(tmp_path):
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1)])
    (sub,), _ = collect(archive, ["perceptron"])
    folder = sub.notebooks["perceptron"].parent.parent
    try:
        assert folder.name.startswith("coursekit-intake-")
        assert sub.notebooks["perceptron"].read_text() == NOTEBOOK
    finally:
        shutil.rmtree(folder)


# -- roster ---------------------------------------------------------------------------------------


def test_roster_adds_missing_students_and_flags_unknown_ones(tmp_path):
    subs_dir = tmp_path / "subs"
    write_nb(subs_dir / "ann" / "forward.ipynb")
    write_nb(subs_dir / "ann" / "backward.ipynb")
    write_nb(subs_dir / "dan" / "forward.ipynb")
    roster = tmp_path / "roster.csv"
    roster.write_text("name,student_id,email\nAnn A,ann,ann@x.org\nBob B,bob,bob@x.org\n"
                      "Cy C,cy,cy@x.org\n,,\n")
    subs, skipped = collect(subs_dir, ["forward", "backward"], roster=roster)
    by = {s.student: s for s in subs}
    assert list(by) == ["ann", "bob", "cy", "dan"]
    for student in ("bob", "cy"):
        assert by[student].notebooks == {}
        assert by[student].failures == {"forward": "no submission handed in",
                                        "backward": "no submission handed in"}
        assert by[student].submitted_at is None
    assert "not on the roster" in by["dan"].notes
    assert by["dan"].failures == {"backward": "no backward.ipynb handed in"}
    assert by["ann"].notes == [] and by["ann"].failures == {}
    assert skipped == []


@pytest.mark.parametrize("header", ["id", "ID", "username", " Student_ID "])
def test_roster_id_column_names(tmp_path, header):
    roster = tmp_path / "r.csv"
    roster.write_text(f"\ufeffName,{header}\nAnn,ann\nBob,bob\nAnn again,ann\n", encoding="utf-8")
    assert read_roster(roster) == ["ann", "bob"]


def test_roster_prefers_student_id_over_id(tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("id,student_id\n17,ann\n18,bob\n")
    assert read_roster(roster) == ["ann", "bob"]


def test_a_canvas_roster_finds_submissions_by_user_id(tmp_path):
    # A Canvas gradebook export: the ID column holds user ids; the zip names students by name.
    archive = make_zip(tmp_path / "c.zip", [
        ("doejane_111_5_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("roejohn_222_6_perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    roster = tmp_path / "r.csv"
    roster.write_text("Student,ID,SIS User ID\nDoe Jane,111,s1\nLo Kay,333,s3\n")
    subs, _ = collect(archive, ["perceptron"], workdir=tmp_path / "w", roster=roster)
    by = {s.student: s for s in subs}
    assert sorted(by) == ["111", "333", "roejohn"]
    assert by["111"].notes == ["handed in as doejane"] and by["111"].failures == {}
    assert by["111"].notebooks["perceptron"].read_text() == NOTEBOOK
    assert by["333"].failures == {"perceptron": "no submission handed in"}
    assert by["roejohn"].notes == ["not on the roster"]


def test_a_roster_id_that_is_another_students_user_id_does_not_take_their_work(tmp_path):
    # The roster's ids are the university's numbers; 222 is Ann Lee's, and also John Roe's user id
    # on Canvas. Its names tell the two apart; without them, the id is all there is to go on.
    archive = make_zip(tmp_path / "c.zip", [
        ("doejane_111_5_perceptron.ipynb", NOTEBOOK, MAY_1),
        ("roejohn_222_6_perceptron.ipynb", NOTEBOOK, MAY_1),
    ])
    roster = tmp_path / "r.csv"
    roster.write_text('name,student_id\n"Lee, Ann",222\n"Doe, Jane",111\n')
    subs, _ = collect(archive, ["perceptron"], workdir=tmp_path / "w", roster=roster)
    by = {s.student: s for s in subs}
    assert sorted(by) == ["111", "222", "roejohn"]
    note = "the roster's id 222 (Lee, Ann) is the LMS user id of the submission roejohn, under another name"
    assert by["222"].failures == {"perceptron": "no submission handed in"} and note in by["222"].notes[0]
    assert by["roejohn"].failures == {} and note in by["roejohn"].notes[0]
    assert by["roejohn"].notes[1] == "not on the roster"
    assert by["111"].failures == {} and by["111"].notes == ["handed in as doejane"]
    roster.write_text("student_id\n222\n111\n")
    subs, _ = collect(archive, ["perceptron"], workdir=tmp_path / "v", roster=roster)
    by = {s.student: s for s in subs}
    assert sorted(by) == ["111", "222"] and by["222"].notes == ["handed in as roejohn"]


def test_a_roster_id_finds_a_folder_in_another_case(tmp_path):
    write_nb(tmp_path / "subs" / "Erin" / "perceptron.ipynb")
    roster = tmp_path / "r.csv"
    roster.write_text("id\nerin\n")
    (sub,), _ = collect(tmp_path / "subs", ["perceptron"], roster=roster)
    assert sub.student == "erin" and sub.notes == ["handed in as Erin"] and sub.failures == {}


def test_a_roster_matches_exact_ids_before_looser_ones(tmp_path):
    write_nb(tmp_path / "subs" / "ada" / "perceptron.ipynb")
    write_nb(tmp_path / "subs" / "Bo" / "perceptron.ipynb")
    roster = tmp_path / "r.csv"
    roster.write_text("id\nAda\nada\nbo\n")
    by = {s.student: s for s in collect(tmp_path / "subs", ["perceptron"], roster=roster)[0]}
    assert by["ada"].failures == {} and by["ada"].notes == []
    assert by["Ada"].failures == {"perceptron": "no submission handed in"}
    assert by["bo"].notes == ["handed in as Bo"]


def test_a_roster_does_not_stand_in_for_missing_submissions(tmp_path):
    # A wrong pattern skips every entry: that must stop, not give the whole roster zeros.
    archive = make_zip(tmp_path / "c.zip", [("Ann_1_assignsubmission_file_/perceptron.ipynb", NOTEBOOK,
                                             MAY_1)])
    roster = tmp_path / "r.csv"
    roster.write_text("id\nann\nbob\n")
    with pytest.raises(IntakeError, match="no submissions found in .*c.zip; skipped Ann_1_"):
        collect(archive, ["perceptron"], workdir=tmp_path / "w", roster=roster)


def test_bad_rosters_are_refused(tmp_path):
    roster = tmp_path / "r.csv"
    roster.write_text("name,email\nAnn,ann@x.org\n")
    write_nb(tmp_path / "subs" / "ann.ipynb")
    with pytest.raises(IntakeError, match="needs a column named student_id, id, username"):
        collect(tmp_path / "subs", ["perceptron"], roster=roster)
    roster.write_text("student_id\nann\nJane Doe\n")
    with pytest.raises(IntakeError, match="line 3: 'Jane Doe' is not a usable student id"):
        read_roster(roster)
    with pytest.raises(IntakeError, match="cannot read the roster"):
        read_roster(tmp_path / "absent.csv")


# -- folders --------------------------------------------------------------------------------------


def test_folder_and_loose_file_times_come_from_mtime(tmp_path):
    t1 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    t2 = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)
    write_nb(tmp_path / "ann" / "forward.ipynb", mtime=t2)
    write_nb(tmp_path / "ann" / "old" / "draft.ipynb", mtime=t1)
    write_nb(tmp_path / "bob.ipynb", mtime=t1)
    (tmp_path / "cy").mkdir()
    subs, _ = collect(tmp_path, ["forward"], due=datetime(2024, 5, 2, 9, 0, tzinfo=UTC))
    by = {s.student: s for s in subs}
    assert by["ann"].submitted_at == t2  # the newest notebook in her folder
    assert by["ann"].late_by == timedelta(minutes=30) and "late by 30 min" in by["ann"].notes
    assert by["bob"].submitted_at == t1 and by["bob"].late_by is None
    assert by["cy"].submitted_at is None and by["cy"].late_by is None


def test_a_second_copy_beside_the_notebook_is_named_and_does_not_decide_lateness(tmp_path):
    due = datetime(2024, 5, 2, 0, 0, tzinfo=UTC)
    graded_at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    write_nb(tmp_path / "kim" / "perceptron.ipynb", mtime=graded_at)
    write_nb(tmp_path / "kim" / "perceptron (1).ipynb", mtime=datetime(2024, 5, 3, 0, 0, tzinfo=UTC))
    (kim,), _ = collect(tmp_path, ["perceptron"], due=due)
    assert kim.notebooks["perceptron"].name == "perceptron.ipynb"
    assert kim.submitted_at == graded_at and kim.late_by is None
    assert kim.notes == ["also handed in, not graded: perceptron (1).ipynb (graded: perceptron.ipynb)"]
    # the same in an LMS zip
    archive = make_zip(tmp_path / "c.zip", [
        ("kim_1_2_perceptron.ipynb", NOTEBOOK, (2024, 5, 1, 12, 0, 0)),
        ("kim_1_3_perceptron-1.ipynb", NOTEBOOK, (2024, 5, 3, 0, 0, 0)),
    ])
    (kim,), _ = collect(archive, ["perceptron"], workdir=tmp_path / "w")
    assert kim.submitted_at == graded_at
    assert kim.notes == ["also handed in, not graded: perceptron-1.ipynb (graded: perceptron.ipynb)"]


def test_hidden_copies_are_ignored_and_the_nearest_readable_copy_is_graded(tmp_path):
    write_nb(tmp_path / "al" / "perceptron.ipynb")
    (tmp_path / "al" / "backup").mkdir()
    (tmp_path / "al" / "backup" / "perceptron.ipynb").write_text("{}")  # deeper, and broken
    write_nb(tmp_path / "bo" / "work" / "perceptron.ipynb")
    (tmp_path / "bo" / "a").mkdir()
    (tmp_path / "bo" / "a" / "perceptron.ipynb").write_text("not json")  # as deep, first by name
    (tmp_path / "bo" / ".old").mkdir()
    (tmp_path / "bo" / ".old" / "perceptron.ipynb").write_text("not json")
    write_nb(tmp_path / "dee" / "Perceptron_final.IPYNB")
    (tmp_path / "dee" / "._Perceptron_final.ipynb").write_bytes(b"\x00\x05\x16\x07")  # macOS metadata
    write_nb(tmp_path / "dee" / "__MACOSX" / "perceptron.ipynb")
    by = {s.student: s for s in collect(tmp_path, ["perceptron"])[0]}
    assert by["al"].notebooks["perceptron"] == tmp_path / "al" / "perceptron.ipynb"
    assert by["al"].notes == ["perceptron.ipynb handed in 2 times; graded perceptron.ipynb"]
    assert by["bo"].notebooks["perceptron"] == tmp_path / "bo" / "work" / "perceptron.ipynb"
    assert by["bo"].notes == ["perceptron.ipynb handed in 2 times; graded work/perceptron.ipynb"]
    assert by["dee"].notebooks["perceptron"] == tmp_path / "dee" / "Perceptron_final.IPYNB"
    assert by["dee"].failures == {}


def test_an_id_with_a_trailing_newline_is_refused(tmp_path):
    write_nb(tmp_path / "bob\n" / "perceptron.ipynb")
    write_nb(tmp_path / "ann" / "perceptron.ipynb")
    subs, skipped = collect(tmp_path, ["perceptron"])
    assert [s.student for s in subs] == ["ann"]
    assert skipped == [f"bob\n: 'bob\\n' is not a usable student id ({ID_RULE})"]


def test_a_folder_name_too_long_for_an_id_is_refused_with_the_limit(tmp_path):
    long_name = "学" * 70  # 70 characters, 210 bytes: more than an id may take
    write_nb(tmp_path / long_name / "perceptron.ipynb")
    write_nb(tmp_path / "ann" / "perceptron.ipynb")
    subs, skipped = collect(tmp_path, ["perceptron"])
    assert [s.student for s in subs] == ["ann"]
    assert len(skipped) == 1 and "is not a usable student id" in skipped[0] and "200 bytes" in skipped[0]


def test_a_linked_student_folder_or_notebook_is_not_followed(tmp_path):
    answers = write_nb(tmp_path / "answers" / "perceptron.ipynb")
    hand_ins = tmp_path / "hand-ins"
    write_nb(hand_ins / "ann" / "perceptron.ipynb")
    (hand_ins / "eve").symlink_to(answers.parent)  # a whole folder that is the answers'
    (hand_ins / "mal.ipynb").symlink_to(answers)
    subs, skipped = collect(hand_ins, ["perceptron"])
    assert [s.student for s in subs] == ["ann"]
    assert skipped == ["eve: a symbolic link; not followed", "mal.ipynb: a symbolic link; not followed"]


def test_old_behaviour_is_unchanged_without_the_new_arguments(tmp_path):
    write_nb(tmp_path / "ann" / "perceptron.ipynb")
    write_nb(tmp_path / "cat" / "perceptron (1).ipynb")
    write_nb(tmp_path / "dan.ipynb")
    (tmp_path / "notes.txt").write_text("x")
    subs, skipped = collect(tmp_path, ["perceptron"])
    assert [s.student for s in subs] == ["ann", "cat", "dan"]
    assert skipped == ["notes.txt: not a folder or a .ipynb file"]
    by = {s.student: s for s in subs}
    assert by["ann"] == Submission("ann", {"perceptron": tmp_path / "ann" / "perceptron.ipynb"},
                                   submitted_at=by["ann"].submitted_at)
    assert by["cat"].notes == ["notebook was renamed to perceptron (1).ipynb; graded as perceptron.ipynb"]
    assert by["dan"].notes == [] and all(s.late_by is None for s in subs)


def test_unusable_inputs_are_refused(tmp_path):
    text = tmp_path / "subs.txt"
    text.write_text("x")
    with pytest.raises(IntakeError, match="neither a folder nor a .zip file"):
        collect(text, ["perceptron"])
    with pytest.raises(IntakeError, match="neither a folder nor a .zip file"):
        collect(tmp_path / "absent", ["perceptron"])
    archive = make_zip(tmp_path / "c.zip", [("ann_1_2_perceptron.ipynb", NOTEBOOK, MAY_1)])
    with pytest.raises(ValueError, match="pattern must have a named group 'student'"):
        collect(archive, ["perceptron"], pattern=r"(?P<name>.+)")
    with pytest.raises(ValueError, match="pattern is not a valid regular expression"):
        collect(archive, ["perceptron"], pattern=r"(?P<student>")
    with pytest.raises(ValueError, match="max_entries must be a positive int"):
        collect(archive, ["perceptron"], max_entries=0)
    with pytest.raises(ValueError, match="due must be a datetime"):
        collect(tmp_path, ["perceptron"], due="2024-05-01")
    with pytest.raises(ValueError, match="tz must be a datetime.tzinfo"):
        collect(tmp_path, ["perceptron"], tz="Europe/Berlin")
