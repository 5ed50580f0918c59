"""HOSTILE: prints terminal escape sequences (clear the screen, retitle the window, a red fake
summary line) and a carriage return over its own line, then exits before serving, so its log is
shown with the launch error."""

import sys

sys.stdout.write("\x1b[2J\x1b[H\x1b]0;owned\x07starting\rOVERWRITTEN\n"
                 "\x1b[31m==== 865 passed in 1.00s ====\x1b[0m\n\x9b2J")
sys.stdout.flush()
sys.exit(1)
