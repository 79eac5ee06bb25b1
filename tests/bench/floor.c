/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * floor - the least work any `types` listing must do, the floor `make bench` measures
 * mdevd against:
 *
 *   floor DIR
 *
 * Lists DIR/class/mdev_bus/ and each DIR/class/mdev_bus/<parent>/mdev_supported_types/
 * with readdir, and for each type dir opens, reads once and closes its four attributes
 * (name, available_instances, device_api, description) by full path. Nothing else: no
 * parsing, no sorting, no output but the count of type dirs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const attrs[] = {"name", "available_instances", "device_api", "description"};

int main(int argc, char **argv)
{
	char path[4096], buf[4096];
	unsigned long types = 0, bytes = 0;
	struct dirent *pe, *te;
	DIR *parents, *tdir;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: floor DIR\n");
		return 64;
	}
	snprintf(path, sizeof(path), "%s/class/mdev_bus", argv[1]);
	parents = opendir(path);
	if (!parents) {
		perror(path);
		return 1;
	}
	while ((pe = readdir(parents))) {
		if (pe->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/class/mdev_bus/%s/mdev_supported_types", argv[1],
			 pe->d_name);
		tdir = opendir(path);
		if (!tdir)
			continue;
		while ((te = readdir(tdir))) {
			if (te->d_name[0] == '.')
				continue;
			types++;
			for (int a = 0; a < 4; a++) {
				ssize_t r;
				int fd;

				n = snprintf(path, sizeof(path),
					     "%s/class/mdev_bus/%s/mdev_supported_types/%s/%s",
					     argv[1], pe->d_name, te->d_name, attrs[a]);
				if (n < 0 || (size_t)n >= sizeof(path))
					continue;
				fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd < 0)
					continue;
				r = read(fd, buf, sizeof(buf));
				if (r > 0)
					bytes += (unsigned long)r;
				close(fd);
			}
		}
		closedir(tdir);
	}
	closedir(parents);
	printf("%lu\n", types);
	return types && !bytes ? 1 : 0;
}
