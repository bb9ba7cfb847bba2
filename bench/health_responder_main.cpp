// bench_responder: the whole application of the engine-scale bundle (bench/scale_bundle). It is
// the bundle's ApplicationStart hook: run with no arguments, it forks a detached child that
// listens on 127.0.0.1:$PORT and answers every request with "200 ok", and exits as soon as the
// child listens, so the instance is healthy the moment the hook returns. The child keeps the
// hook's environment (BLUEGREEN_INSTANCE_ID among it), so the local fleet finds and stops it.
// One process of about 1 MiB per instance: 200 instances stay cheap.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int listen_on_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

[[noreturn]] void serve(int listener) {
  static const char answer[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\nConnection: "
      "close\r\n\r\nok\n";
  char request[4096];
  for (;;) {
    int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    // Health probes and the proxy send small heads; one read is enough to answer.
    if (read(client, request, sizeof request) > 0) {
      if (write(client, answer, sizeof answer - 1) < 0) { /* the client went away */
      }
    }
    close(client);
  }
}

}  // namespace

int main() {
  const char* port_text = std::getenv("PORT");
  int port = port_text ? std::atoi(port_text) : 0;
  if (port <= 0) {
    std::fprintf(stderr, "bench_responder: PORT is not set\n");
    return 2;
  }
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return 1;
  pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    close(ready[0]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    int listener = listen_on_port(port);
    char status = listener >= 0 ? 'y' : 'n';
    if (write(ready[1], &status, 1) != 1 || listener < 0) _exit(1);
    close(ready[1]);
    serve(listener);
  }
  close(ready[1]);
  char status = 'n';
  if (read(ready[0], &status, 1) != 1 || status != 'y') {
    std::fprintf(stderr, "bench_responder: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  std::printf("listening on 127.0.0.1:%d\n", port);
  return 0;
}
