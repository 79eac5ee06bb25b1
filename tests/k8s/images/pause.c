/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pause — the pod sandbox's process for the test cluster's local pause image (no registry
 * is reachable). It does what Kubernetes' own pause does: sleeps until SIGINT or SIGTERM,
 * reaps the zombies a shared PID namespace hands it, and exits 0. Built static
 * (tests/k8s/images/build.sh) so the image is this one file.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig)
{
	_exit(0);
}

static void reap(int sig)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction term = {.sa_handler = stop},
			 child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};

	if (sigaction(SIGINT, &term, NULL) < 0 || sigaction(SIGTERM, &term, NULL) < 0 ||
	    sigaction(SIGCHLD, &child, NULL) < 0)
		return 1;
	for (;;)
		pause();
}
