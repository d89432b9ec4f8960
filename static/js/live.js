// Live updates: the element carrying data-live="/t/{slug}/live" is refreshed when the server says an invoice of
// the tenant changed. Without JavaScript (or EventSource) a reload shows the same thing.
(function () {
  "use strict";

  var root = document.querySelector("[data-live]");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var url = root.getAttribute("data-live");
  var timer = null;
  var busy = false;
  var again = false;

  // Someone typing in the element would lose their input: wait until they leave the field.
  function editing(element) {
    var active = document.activeElement;
    return active && element.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  // Swapping the content removes the element that had the keyboard focus, which would send a keyboard or screen
  // reader user back to the top of the page: remember it, to focus its counterpart in the new content.
  function focusedIn(element) {
    var active = document.activeElement;
    if (!active || active === document.body || !element.contains(active)) {
      return null;
    }
    return {
      id: active.id,
      tag: active.tagName,
      href: active.getAttribute("href"),
      name: active.getAttribute("name"),
      value: active.getAttribute("value"),
      text: active.textContent,
      index: Array.prototype.indexOf.call(element.querySelectorAll(FOCUSABLE), active),
    };
  }

  function refocus(element, was) {
    if (!was) {
      return;
    }
    var target = was.id ? document.getElementById(was.id) : null;
    var all = element.querySelectorAll(FOCUSABLE);
    for (var i = 0; !target && i < all.length; i++) {
      var candidate = all[i];
      if (candidate.tagName === was.tag && candidate.getAttribute("href") === was.href &&
          candidate.getAttribute("name") === was.name && candidate.getAttribute("value") === was.value &&
          candidate.textContent === was.text) {
        target = candidate;
      }
    }
    if (!target && was.index >= 0 && was.index < all.length) {
      target = all[was.index];
    }
    if (target) {
      target.focus({ preventScroll: true });
    }
  }

  // A polite live region outside the swapped element (swapped content is not announced reliably) tells screen
  // reader users the new headline: `data-live-announce` names, as a selector, what to read in the swapped part.
  var announcer = document.querySelector("[data-live-announce]");

  function headline(element) {
    var source = announcer && element.querySelector(announcer.getAttribute("data-live-announce"));
    return source ? source.textContent.trim() : "";
  }

  function announce(before, after) {
    if (announcer && after && after !== before) {
      announcer.textContent = after;
    }
  }

  function refresh() {
    var current = document.querySelector("[data-live]");
    if (!current) {
      return;
    }
    if (busy || editing(current)) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live]");
        if (fresh && !editing(current)) {
          var was = focusedIn(current);
          var before = headline(current);
          current.innerHTML = fresh.innerHTML;
          refocus(current, was);
          announce(before, headline(current));
        }
      })
      .catch(function () {
        // A failed refresh is not worth a message: the next event, or a reload, tries again.
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  // Several events in a burst make one refresh.
  function schedule() {
    if (timer) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(function () {
      timer = null;
      refresh();
    }, 300);
  }

  document.addEventListener("focusout", function () {
    if (again && !busy) {
      again = false;
      schedule();
    }
  });

  var source = new EventSource(url);
  source.addEventListener("invoice", schedule);
})();
