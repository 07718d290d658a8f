# Local stand-in for ansible-test's get-pip bootstrap script (ci-files.testing.ansible.com is unreachable here):
# bootstrap the interpreter's bundled pip with ensurepip, then let pip install the requested pip from PyPI.
# (ensurepip runs in a child process: in-process it sets PIP_CONFIG_FILE=/dev/null, hiding the host's pip.conf.)
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--upgrade"] + args))
