"""What pyproject.toml cannot say: which program is installed as `roar`.

With the Rust tracer built (setuptools-rust puts it in the package as
roar/roar-tracer), `roar` is a copy of that binary: it runs `roar run` and
`roar build` itself, starting no Python interpreter on the path of every
traced command, and hands every other subcommand to `roar-py`, roar's
Python CLI. Without cargo the tracer is optional and not built: `roar` is
then bin/roar, a Python launcher, and `roar run` explains what is missing.
"""

import os
import shutil

from setuptools import setup

# setuptools has no build_scripts of its own; once it is imported, this is
# the distutils it ships.
from distutils.command.build_scripts import build_scripts  # noqa: E402

TRACER = os.path.join("roar", "roar-tracer")


class BuildScripts(build_scripts):
    def run(self) -> None:
        super().run()  # bin/roar, the Python launcher, with its #! line fixed
        build_lib = self.get_finalized_command("build_py").build_lib
        # A regular build leaves the binary under build_lib; an editable one in place.
        for built in (os.path.join(build_lib, TRACER), TRACER):
            if os.access(built, os.X_OK):
                target = os.path.join(self.build_dir, "roar")
                shutil.copyfile(built, target)
                os.chmod(target, 0o755)
                break


setup(scripts=["bin/roar"], cmdclass={"build_scripts": BuildScripts})
