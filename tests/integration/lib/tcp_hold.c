/* tcp_hold: holds many TCP connections, for the denial-of-service tests.
 *   tcp_hold IP PORT N STOPFILE   opens N connections one after another (its fd limit raised to
 *                                 the hard one), prints "opened K", holds them until STOPFILE
 *                                 exists (60 s at most), then prints "open M": how many the
 *                                 server has not closed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int still_open(int s) {
    struct pollfd p = {s, POLLIN, 0};
    char b;
    if (poll(&p, 1, 0) == 0) return 1;
    return recv(s, &b, 1, MSG_DONTWAIT) > 0;
}

int main(int argc, char** argv) {
    if (argc != 5) return fprintf(stderr, "usage: tcp_hold IP PORT N STOPFILE\n"), 2;
    struct rlimit l;
    getrlimit(RLIMIT_NOFILE, &l);
    l.rlim_cur = l.rlim_max;
    setrlimit(RLIMIT_NOFILE, &l);
    int n = atoi(argv[3]);
    int* socks = calloc((size_t)n, sizeof *socks);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    struct timeval tv = {2, 0};
    int opened = 0;
    for (int i = 0; i < n; ++i) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) break;
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(s, (struct sockaddr*)&a, sizeof a) < 0) {
            close(s);
            continue;
        }
        socks[opened++] = s;
    }
    printf("opened %d\n", opened);
    fflush(stdout);
    for (int i = 0; i < 600 && access(argv[4], F_OK) != 0; ++i) usleep(100000);
    int open_now = 0;
    for (int i = 0; i < opened; ++i) open_now += still_open(socks[i]);
    printf("open %d\n", open_now);
    return 0;
}
