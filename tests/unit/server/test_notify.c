/* systemd notifications (server/notify.c): each srv_notify() call arrives as
 * exactly one datagram with exactly the given bytes on a socket named by
 * $NOTIFY_SOCKET, a path or an abstract name ('@'); bad names are refused
 * with -EINVAL, a missing socket with -errno, and no descriptor leaks. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "srv.h"
#include "test.h"

/* Bind a datagram socket at path (abstract when path starts with '@', the
 * address then being exactly the name's bytes, as systemd sets it). */
static int listen_at(const char *path)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
		perror(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Next datagram within 1 s into buf; its length, or -1 when none came. */
static ssize_t recv_one(int fd, char *buf, size_t cap)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 1000) != 1)
		return -1;
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

/* No datagram waiting. */
static int quiet(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 50) == 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The messages modeld sends, one datagram each, bytes unchanged. */
static void check_roundtrip(int fd, const char *name)
{
	static const char *msgs[] = {
		"READY=1\nSTATUS=serving 2 models on port 8080",
		"RELOADING=1\nMONOTONIC_USEC=123456789",
		"STOPPING=1\nSTATUS=draining",
		"STATUS=",
	};
	char buf[8192];
	setenv("NOTIFY_SOCKET", name, 1);
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		CHECK_EQ_INT(srv_notify(msgs[i]), 0);
		ssize_t n = recv_one(fd, buf, sizeof(buf));
		CHECK_EQ_INT(n, (ssize_t)strlen(msgs[i]));
		CHECK(n >= 0 && memcmp(buf, msgs[i], (size_t)n) == 0);
	}
	/* a long STATUS stays one datagram */
	char big[4096];
	memcpy(big, "STATUS=", 7);
	for (size_t i = 7; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ_INT(srv_notify(big), 0);
	ssize_t n = recv_one(fd, buf, sizeof(buf));
	CHECK_EQ_INT(n, (ssize_t)strlen(big));
	CHECK(n >= 0 && memcmp(buf, big, (size_t)n) == 0);
	CHECK(quiet(fd));
	/* the variable is left for later calls (and children) */
	CHECK(getenv("NOTIFY_SOCKET") && strcmp(getenv("NOTIFY_SOCKET"), name) == 0);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	char dir[512], path[700];
	snprintf(dir, sizeof(dir), "%s/modeld-test-notify-XXXXXX", t && t[0] ? t : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	int fds0 = count_fds();

	/* without NOTIFY_SOCKET (or with it empty) nothing is sent */
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ_INT(srv_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_EQ_INT(srv_notify("READY=1"), 0);

	/* a socket path */
	snprintf(path, sizeof(path), "%s/notify", dir);
	int fd = listen_at(path);
	CHECK(fd >= 0);
	if (fd >= 0) {
		check_roundtrip(fd, path);
		close(fd);
	}
	unlink(path);

	/* an abstract name */
	char abstract[64];
	snprintf(abstract, sizeof(abstract), "@modeld-test-notify-%ld", (long)getpid());
	fd = listen_at(abstract);
	CHECK(fd >= 0);
	if (fd >= 0) {
		check_roundtrip(fd, abstract);
		close(fd);
	}

	/* the longest name that fits sun_path (107 bytes, no terminator) */
	struct sockaddr_un sa;
	size_t room = sizeof(sa.sun_path) - 1, dl = strlen(dir);
	if (dl + 2 < room) {
		snprintf(path, sizeof(path), "%s/", dir);
		memset(path + dl + 1, 'x', room - dl - 1);
		path[room] = '\0';
		fd = listen_at(path);
		CHECK(fd >= 0);
		if (fd >= 0) {
			check_roundtrip(fd, path);
			close(fd);
		}
		unlink(path);
		/* one byte more cannot be addressed */
		strcat(path, "y");
		setenv("NOTIFY_SOCKET", path, 1);
		CHECK_EQ_INT(srv_notify("READY=1"), -EINVAL);
	}

	/* refused names and a socket that is not there */
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	CHECK_EQ_INT(srv_notify("READY=1"), -EINVAL);
	snprintf(path, sizeof(path), "%s/absent", dir);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_EQ_INT(srv_notify("READY=1"), -ENOENT);
	setenv("NOTIFY_SOCKET", "@modeld-test-notify-nobody-listens", 1);
	CHECK_EQ_INT(srv_notify("READY=1"), -ECONNREFUSED);

	/* every call closed its socket */
	for (int i = 0; i < 100; i++)
		srv_notify("STATUS=x");
	CHECK_EQ_INT(count_fds(), fds0);
	rmdir(dir);
	TEST_END();
}
