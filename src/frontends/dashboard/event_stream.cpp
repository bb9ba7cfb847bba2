#include "frontends/dashboard/event_stream.h"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <set>
#include <variant>

#include "core/deployment_json.h"
#include "frontends/admin/admin_api.h"
#include "frontends/dashboard/deployment_view.h"

namespace bluegreen::dashboard {
namespace {

using admin::HttpRequest;
using admin::HttpResponse;
using admin::StreamWriter;
using nlohmann::json;

// A client slower than this many unsent items is cut off; it reconnects to a fresh snapshot.
constexpr std::size_t kMaxQueued = 10'000;

// What the LiveLog listener hands to the stream's thread.
class Mailbox {
 public:
  using Item = std::variant<DeploymentEvent, Deployment>;

  void put(Item item) {
    {
      std::lock_guard lock(mutex_);
      if (items_.size() >= kMaxQueued) {
        overflowed_ = true;
        return;
      }
      items_.push_back(std::move(item));
    }
    arrived_.notify_one();
  }
  // Waits up to `timeout` for items; returns what there is. `overflowed` tells the caller to
  // end the stream.
  std::deque<Item> take(std::chrono::milliseconds timeout, bool& overflowed) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return !items_.empty() || overflowed_; });
    overflowed = overflowed_;
    return std::exchange(items_, {});
  }
  // Forgets queued records: the snapshot just read is at least as new as any of them.
  void drop_records() {
    std::lock_guard lock(mutex_);
    std::erase_if(items_,
                  [](const Item& item) { return std::holds_alternative<Deployment>(item); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Item> items_;
  bool overflowed_ = false;
};

bool send(StreamWriter& out, const char* event, const json& data) {
  return out.write(std::string("event: ") + event +
                   "\ndata: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n");
}

class Stream {
 public:
  Stream(DeploymentService& service, LiveLog& live_log, std::string deployment_id,
         EventStreamOptions options)
      : service_(service),
        live_log_(live_log),
        deployment_id_(std::move(deployment_id)),
        options_(options),
        mailbox_(std::make_shared<Mailbox>()) {}

  void run(StreamWriter& out) {
    auto mailbox = mailbox_;
    std::string only = deployment_id_;
    auto subscription =
        live_log_.subscribe([mailbox, only](const DeploymentEvent* event, const Deployment* d) {
          if (event && !only.empty() && event->deployment_id == only) mailbox->put(*event);
          if (d && (only.empty() || d->id == only)) mailbox->put(*d);
        });
    if (!send_snapshot(out) || !send_status(out)) return;
    for (;;) {
      bool overflowed = false;
      auto items = mailbox_->take(options_.status_interval, overflowed);
      if (overflowed) return;
      bool sent = false;
      for (const auto& item : items) {
        if (!send_item(out, item, sent)) return;
      }
      if (!send_status(out)) return;
      // A comment line each quiet interval: a client that went away is noticed, and a
      // stopping server is not kept waiting.
      if (!sent && !status_sent_now_ && !out.write(":\n\n")) return;
    }
  }

 private:
  bool send_snapshot(StreamWriter& out) {
    auto now = std::chrono::system_clock::now();
    if (deployment_id_.empty()) {
      auto all = service_.deployments();
      mailbox_->drop_records();
      json list = json::array();
      if (all) {
        for (const auto& d : *all) list.push_back(history_item_json(d));
      }
      return send(out, "deployments", json{{"deployments", list}});
    }
    auto record = service_.deployment(deployment_id_);
    mailbox_->drop_records();
    auto events = service_.events(deployment_id_);
    if (!record || !events) return false;
    json list = json::array();
    for (const auto& event : *events) {
      json item = to_json(event);
      backlog_.insert(item.dump());
      list.push_back(std::move(item));
    }
    return send(out, "deployment",
                deployment_view_json(*record, now, service_.takes_requests(record->id))) &&
           send(out, "logs", json{{"events", list}});
  }

  bool send_item(StreamWriter& out, const Mailbox::Item& item, bool& sent) {
    if (const auto* event = std::get_if<DeploymentEvent>(&item)) {
      json data = to_json(*event);
      if (backlog_.contains(data.dump())) return true;
      sent = true;
      return send(out, "log", data);
    }
    const auto& d = std::get<Deployment>(item);
    sent = true;
    if (deployment_id_.empty()) return send(out, "deployment", history_item_json(d));
    return send(
        out, "deployment",
        deployment_view_json(d, std::chrono::system_clock::now(), service_.takes_requests(d.id)));
  }

  // Sends the groups' status when it differs from what was sent last; false when the client
  // has gone.
  bool send_status(StreamWriter& out) {
    json status = status_json(service_.status());
    std::string text = status.dump();
    status_sent_now_ = text != last_status_;
    if (!status_sent_now_) return true;
    last_status_ = std::move(text);
    return send(out, "status", status);
  }

  DeploymentService& service_;
  LiveLog& live_log_;
  const std::string deployment_id_;
  const EventStreamOptions options_;
  std::shared_ptr<Mailbox> mailbox_;
  std::set<std::string> backlog_;  // log events already sent in the snapshot
  std::string last_status_;
  bool status_sent_now_ = false;
};

}  // namespace

void add_event_stream(admin::Router& router, DeploymentService& service, LiveLog& live_log,
                      EventStreamOptions options) {
  auto open_streams = std::make_shared<std::atomic<int>>(0);
  router.add("GET", kEventStreamPath,
             [&service, &live_log, options, open_streams](const HttpRequest& request) {
               std::string id;
               if (auto it = request.query.find("deployment"); it != request.query.end())
                 id = it->second;
               if (!id.empty()) {
                 if (auto known = service.deployment(id); !known)
                   return HttpResponse::error(known.error());
               }
               // Counted from here to the stream's end; the count is taken back if the answer is
               // dropped before its stream runs.
               if (open_streams->fetch_add(1) >= options.max_streams) {
                 open_streams->fetch_sub(1);
                 return HttpResponse::error(
                     {ErrorKind::unavailable,
                      fmt::format("{} live streams are open, the most this server keeps; close a "
                                  "dashboard tab (or raise `bluegreen server --admin-max-streams`)",
                                  options.max_streams)});
               }
               auto slot = std::shared_ptr<void>(
                   nullptr, [open_streams](void*) { open_streams->fetch_sub(1); });
               HttpResponse answer;
               answer.content_type = "text/event-stream; charset=utf-8";
               answer.headers.emplace_back("X-Accel-Buffering", "no");
               answer.stream = [&service, &live_log, id, options, slot](StreamWriter& out) {
                 Stream(service, live_log, id, options).run(out);
               };
               return answer;
             });
}

}  // namespace bluegreen::dashboard
