// AnnotatingSink: an EventSink that adds fields to every event before passing it on (which job,
// which cloud deployments, the provider's stage), so that every line of a run says what it is
// about. Records pass through unchanged.
#pragma once

#include <functional>
#include <utility>

#include "engine/ports.h"

namespace bluegreen {

class AnnotatingSink final : public EventSink {
 public:
  using Annotate = std::function<void(DeploymentEvent&)>;
  AnnotatingSink(EventSink& inner, Annotate annotate)
      : inner_(inner), annotate_(std::move(annotate)) {}
  void publish(const DeploymentEvent& event) override {
    DeploymentEvent annotated = event;
    annotate_(annotated);
    inner_.publish(annotated);
  }
  void update(const Deployment& deployment) override { inner_.update(deployment); }

 private:
  EventSink& inner_;
  Annotate annotate_;
};

}  // namespace bluegreen
