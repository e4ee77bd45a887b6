/*
 * wlansimd — the user-space half of the leakgate reference target's "access
 * point". It receives UDP datagrams (QEMU forwards them from the host) and
 * pushes each one into the wlansim driver as a received frame by writing it to
 * /dev/wlansim.
 *
 * Leak knob: while the flag file exists (default /run/wlansimd.leak), every
 * request also mallocs and touches N bytes that are never freed (N = the
 * number in the file, default 4096), so the daemon's anonymous memory grows
 * per request. The flag is re-checked once a second; SIGUSR1 forces a re-check
 * at once.
 *
 * Usage: wlansimd [-p udp-port] [-d device] [-f flag-file]
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t recheck = 1;

static void on_usr1(int sig) { (void)sig; recheck = 1; }

/* leak_bytes reads the flag file: 0 when absent, else its number or 4096. */
static size_t leak_bytes(const char *flag)
{
	char buf[32];
	long n;
	ssize_t r;
	int fd = open(flag, O_RDONLY);

	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 4096;
	buf[r] = 0;
	n = strtol(buf, NULL, 10);
	if (n <= 0 || n > (1L << 24))
		return 4096;
	return (size_t)n;
}

int main(int argc, char **argv)
{
	const char *dev = "/dev/wlansim", *flag = "/run/wlansimd.leak";
	int port = 5555, opt, sock, fd;
	struct sockaddr_in addr;
	struct sigaction sa;
	unsigned char frame[2304];
	size_t leak = 0;
	time_t checked = 0;
	unsigned long requests = 0, leaked = 0;

	while ((opt = getopt(argc, argv, "p:d:f:")) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'd': dev = optarg; break;
		case 'f': flag = optarg; break;
		default:
			fprintf(stderr, "usage: wlansimd [-p port] [-d device] [-f flag-file]\n");
			return 2;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);

	fd = open(dev, O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "wlansimd: open %s: %s; load the wlansim module first\n", dev, strerror(errno));
		return 1;
	}
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0) {
		perror("wlansimd: socket");
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	addr.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "wlansimd: bind udp port %d: %s\n", port, strerror(errno));
		return 1;
	}
	fprintf(stderr, "wlansimd: udp port %d -> %s\n", port, dev);

	for (;;) {
		ssize_t n = recv(sock, frame, sizeof(frame), 0);
		time_t now;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("wlansimd: recv");
			return 1;
		}
		if (n == 0)
			continue;
		requests++;
		if (write(fd, frame, (size_t)n) < 0 && errno != EMSGSIZE)
			fprintf(stderr, "wlansimd: write %s: %s\n", dev, strerror(errno));

		now = time(NULL);
		if (recheck || now != checked) {
			recheck = 0;
			checked = now;
			leak = leak_bytes(flag);
		}
		if (leak) {
			/* The bug: a per-request buffer nobody frees. */
			char *p = malloc(leak);
			if (p) {
				memset(p, (int)(requests & 0xff) | 1, leak);
				leaked++;
			}
		}
	}
}
