// proxy_bench: the built-in proxy alone, for benchmarks. Two fleets, "blue" and "green", one
// instance each; commands on standard input switch between them the way the engine does
// (route, then drain the fleet that stopped serving).
//
//   proxy_bench --blue PORT[,PORT...] --green PORT[,PORT...] [--listen 127.0.0.1:0]
//               [--threads 2] [--drain-ms 1500] [--warm 1]
// Prints "port <n>" once it listens. With --warm 1 each switch first warms the fleet switched to
// (Proxy::warm, as the engine does), and prints "warmed <n> connections in <us> us". Standard
// input: "blue" or "green" switches and prints "routed <colour> in <us> us"; "stats" prints one
// line per fleet; end of input stops.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "proxy/proxy.h"

int main(int argc, char** argv) {
  using namespace bluegreen;
  proxy::ProxyOptions options;
  std::string blue_ports;
  std::string green_ports;
  long drain_ms = 1500;
  bool warm = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--listen") options.listen = value;
    if (flag == "--threads") options.worker_threads = std::stoi(value);
    if (flag == "--blue") blue_ports = value;
    if (flag == "--green") green_ports = value;
    if (flag == "--drain-ms") drain_ms = std::stol(value);
    if (flag == "--warm") warm = value == "1";
  }
  auto started = proxy::Proxy::start(options);
  if (!started) {
    std::fprintf(stderr, "proxy_bench: %s\n", started.error().message.c_str());
    return 1;
  }
  proxy::Proxy& proxy = **started;
  auto fleet = [](const std::string& colour, const std::string& ports) {
    std::vector<Instance> instances;
    std::size_t start = 0;
    while (start < ports.size()) {
      std::size_t comma = ports.find(',', start);
      if (comma == std::string::npos) comma = ports.size();
      Instance instance;
      instance.id = "i-" + colour + "-" + std::to_string(instances.size());
      instance.port = std::stoi(ports.substr(start, comma - start));
      instance.state = InstanceState::healthy;
      instances.push_back(instance);
      start = comma + 1;
    }
    return instances;
  };
  proxy.register_fleet("blue", fleet("blue", blue_ports));
  proxy.register_fleet("green", fleet("green", green_ports));
  proxy.label_fleet("blue", "blue");
  proxy.label_fleet("green", "green");
  proxy.route("blue");
  std::printf("port %d\n", proxy.port());
  std::fflush(stdout);

  std::vector<std::thread> drains;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line == "blue" || line == "green") {
      const std::string old = line == "blue" ? "green" : "blue";
      if (warm) {
        const std::size_t warmed_before = proxy.warmed_connections();
        auto warm_start = std::chrono::steady_clock::now();
        proxy.warm(line);
        auto warm_took = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - warm_start);
        std::printf("warmed %zu connections in %lld us\n",
                    proxy.warmed_connections() - warmed_before,
                    static_cast<long long>(warm_took.count()));
      }
      auto before = std::chrono::steady_clock::now();
      proxy.route(line);
      auto took = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - before);
      std::printf("routed %s in %lld us\n", line.c_str(), static_cast<long long>(took.count()));
      std::fflush(stdout);
      drains.emplace_back([&proxy, old, drain_ms] {
        proxy.drain(old, std::chrono::system_clock::now() + std::chrono::milliseconds(drain_ms));
      });
    } else if (line == "stats") {
      for (const auto& t : proxy.stats())
        std::printf("fleet %s connections %lld requests %lld total %lld errors %lld\n",
                    t.fleet_id.c_str(), t.active_connections, t.active_requests, t.requests_total,
                    t.errors_total);
      std::fflush(stdout);
    }
  }
  for (auto& t : drains) t.join();
  proxy.stop();
  return 0;
}
