/* dockyard's --init: PID 1 of a container. Written for dockyard.
 *
 * Runs argv[1..] as its child, forwards every catchable signal it gets to
 * that child, reaps every process that ends up parented to it (orphans
 * included), and exits with the child's status (128+N when signal N
 * killed it). With a terminal on stdin the child gets its own process
 * group in the foreground, so ^C reaches it and not us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    sigset_t all, old;
    if (argc < 2) {
        fprintf(stderr, "docker-init: usage: docker-init COMMAND [ARG...]\n");
        return 2;
    }
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t child = fork();
    if (child < 0) {
        perror("docker-init: fork");
        return 1;
    }
    if (child == 0) {
        for (int s = 1; s < NSIG; s++)
            signal(s, SIG_DFL);
        if (isatty(STDIN_FILENO)) {
            setpgid(0, 0);
            signal(SIGTTOU, SIG_IGN);
            tcsetpgrp(STDIN_FILENO, getpgrp());
            signal(SIGTTOU, SIG_DFL);
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[1], argv + 1);
        fprintf(stderr, "docker-init: exec %s: %s\n", argv[1], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            if (sig != SIGTTIN && sig != SIGTTOU && sig != SIGTSTP)
                kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != child)
                continue; /* an orphan: reaped, nothing more */
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
    }
}
