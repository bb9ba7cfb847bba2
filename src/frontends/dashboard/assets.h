// The dashboard's page, style sheet and script (the files in assets/), compiled into the
// binary by embed_assets.cmake so the server needs no files and no network to serve them.
#pragma once

#include <string_view>

namespace bluegreen::dashboard {

// The contents of assets/<name> ("index.html", "dashboard.css", "dashboard.js"); empty for
// a name that is not there.
std::string_view embedded_asset(std::string_view name);

}  // namespace bluegreen::dashboard
