#include "record/timestamp.h"

namespace custos::record {
namespace {

void put_digits(char* p, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = char('0' + v % 10);
    v /= 10;
  }
}

bool read_digits(std::string_view s, size_t pos, int width, int64_t& out) {
  if (pos + width > s.size()) {
    return false;
  }
  int64_t v = 0;
  for (int i = 0; i < width; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

}  // namespace

void append_timestamp(std::string& out, std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto us = time_point_cast<microseconds>(t);
  auto day = floor<days>(us);
  year_month_day ymd{day};
  hh_mm_ss<microseconds> hms{us - day};
  char buf[27];
  int64_t year = int(ymd.year());
  if (year < 0 || year > 9999) {
    year = year < 0 ? 0 : 9999;
  }
  put_digits(buf, year, 4);
  buf[4] = '-';
  put_digits(buf + 5, unsigned(ymd.month()), 2);
  buf[7] = '-';
  put_digits(buf + 8, unsigned(ymd.day()), 2);
  buf[10] = 'T';
  put_digits(buf + 11, hms.hours().count(), 2);
  buf[13] = ':';
  put_digits(buf + 14, hms.minutes().count(), 2);
  buf[16] = ':';
  put_digits(buf + 17, hms.seconds().count(), 2);
  buf[19] = '.';
  put_digits(buf + 20, hms.subseconds().count(), 6);
  buf[26] = 'Z';
  out.append(buf, sizeof buf);
}

std::string format_timestamp(std::chrono::system_clock::time_point t) {
  std::string s;
  append_timestamp(s, t);
  return s;
}

std::string format_date(std::chrono::system_clock::time_point t) {
  return format_timestamp(t).substr(0, 10);
}

std::optional<int64_t> parse_timestamp_us(std::string_view s) {
  using namespace std::chrono;
  int64_t y, mo, d, h, mi, sec, frac;
  if (s.size() != 27 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != '.' || s[26] != 'Z') {
    return std::nullopt;
  }
  if (!read_digits(s, 0, 4, y) || !read_digits(s, 5, 2, mo) || !read_digits(s, 8, 2, d) ||
      !read_digits(s, 11, 2, h) || !read_digits(s, 14, 2, mi) || !read_digits(s, 17, 2, sec) ||
      !read_digits(s, 20, 6, frac)) {
    return std::nullopt;
  }
  year_month_day ymd{year(int(y)), month(unsigned(mo)), day(unsigned(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  int64_t days_since = sys_days(ymd).time_since_epoch().count();
  return ((days_since * 24 + h) * 60 + mi) * 60 * 1000000 + sec * 1000000 + frac;
}

}  // namespace custos::record
