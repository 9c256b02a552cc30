/* udp_echo: a UDP peer for the integration tests (busybox has no UDP nc).
 *   udp_echo serve PORT            answers every datagram with "echo:" + its text
 *   udp_echo ask IP PORT TEXT      sends TEXT, prints the answer; exit 1 without one in 3 tries */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    char buf[1500];
    if (argc == 3 && strcmp(argv[1], "serve") == 0) {
        a.sin_port = htons((unsigned short)atoi(argv[2]));
        if (bind(s, (struct sockaddr*)&a, sizeof a) < 0) return perror("bind"), 1;
        for (;;) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr*)&from, &fl);
            if (n < 0) continue;
            memcpy(buf, "echo:", 5);
            sendto(s, buf, (size_t)n + 5, 0, (struct sockaddr*)&from, fl);
        }
    }
    if (argc == 5 && strcmp(argv[1], "ask") == 0) {
        a.sin_port = htons((unsigned short)atoi(argv[3]));
        if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) return fprintf(stderr, "bad address\n"), 2;
        struct timeval tv = {1, 0};
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        for (int i = 0; i < 3; ++i) {
            sendto(s, argv[4], strlen(argv[4]), 0, (struct sockaddr*)&a, sizeof a);
            ssize_t n = recv(s, buf, sizeof buf - 1, 0);
            if (n > 0) {
                buf[n] = 0;
                printf("%s\n", buf);
                return 0;
            }
        }
        return 1;
    }
    fprintf(stderr, "usage: udp_echo serve PORT | udp_echo ask IP PORT TEXT\n");
    return 2;
}
