/*
 * localkube's pause: the first process of every pod sandbox.
 *
 * It holds the pod's namespaces open for the pod's other containers to join, and, being PID 1 of the pod's PID
 * namespace when the pod shares one, reaps the orphans reparented to it so no zombie piles up. It exits 0 on
 * SIGINT or SIGTERM (so stopping a sandbox is immediate and clean) and otherwise sleeps forever, using no CPU.
 *
 * Built static (`gcc -static -Os`, see build.sh) so it runs FROM scratch with no libc beside it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef LOCALKUBE_PAUSE_VERSION
#define LOCALKUBE_PAUSE_VERSION "dev"
#endif

/* Writes a message to a descriptor without stdio: keeps the static binary small (no printf machinery linked in). */
static void say(int fd, const char *msg) {
    size_t len = strlen(msg);
    while (len > 0) {
        ssize_t n = write(fd, msg, len);
        if (n <= 0) {
            return;
        }
        msg += n;
        len -= (size_t)n;
    }
}

/* SIGINT/SIGTERM: the runtime is stopping the sandbox; nothing to clean up, exit at once and with success. */
static void on_stop(int sig) {
    (void)sig;
    _exit(0);
}

/* SIGCHLD: reap every child that has exited. Signals do not queue, so one SIGCHLD may stand for several exits:
 * loop until waitpid reports no more. errno is saved because the handler interrupts arbitrary code. */
static void on_child(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        say(STDOUT_FILENO, "localkube pause " LOCALKUBE_PAUSE_VERSION "\n");
        return 0;
    }
    if (getpid() != 1) {
        /* Still useful (it holds namespaces), but orphans of the pod will not come to us. */
        say(STDERR_FILENO, "pause: warning: not PID 1, orphans will not be reaped here\n");
    }

    struct sigaction stop;
    memset(&stop, 0, sizeof stop);
    stop.sa_handler = on_stop;
    sigemptyset(&stop.sa_mask);
    if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0) {
        say(STDERR_FILENO, "pause: sigaction(SIGINT/SIGTERM) failed\n");
        return 1;
    }

    struct sigaction child;
    memset(&child, 0, sizeof child);
    child.sa_handler = on_child;
    sigemptyset(&child.sa_mask);
    /* Only exits matter, not stops/continues; restart interrupted calls rather than seeing EINTR. */
    child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    if (sigaction(SIGCHLD, &child, NULL) < 0) {
        say(STDERR_FILENO, "pause: sigaction(SIGCHLD) failed\n");
        return 1;
    }

    /* Children may have exited before the handler was installed: reap them now, then wait for signals. */
    on_child(SIGCHLD);
    for (;;) {
        pause();
    }
}
