//! Socket activation across `execve`: keep the fds systemd passed (LISTEN_FDS) and nothing else.
