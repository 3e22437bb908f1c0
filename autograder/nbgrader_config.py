"""nbgrader configuration of the coursekit course.

This folder is an ordinary nbgrader course directory, so every documented ``nbgrader`` command
works when run from here. The instructor's notebooks live in ``../solutions`` (nbgrader's source
folder) and the student versions are released into ``../lessons``.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

here = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = here
c.CourseDirectory.course_id = "coursekit"
c.CourseDirectory.source_directory = os.path.join("..", "solutions")
c.CourseDirectory.release_directory = os.path.join("..", "lessons")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")

# Only notebooks are assignments; any other files in an assignment folder are copied as they are.
c.CourseDirectory.notebook_id = "*"

# Student versions are committed without outputs.
c.ClearOutput.enabled = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Every cell gets a bounded time when grading; coursekit grade passes its own limit too.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
