// Live updates: the element carrying data-live="/t/{slug}/live" follows the server's events without a reload,
// and changes only what changed. Without JavaScript (or EventSource) a reload shows the same thing.
//
// - An invoice list (data-live-mode="rows"): the changed invoice's row is fetched alone from its own address
//   (the row's data-live-src, a scoped route) and replaces that row; every other row stays the same DOM node.
//   Then the status chips (their counts moved with the rows) are fetched alone from data-live-chips, with the
//   list's own query (which chip is in use), and replace the chips.
// - An invoice page or a dashboard (data-live-mode="parts"): the page is fetched again and only its top-level
//   parts (sections) whose content changed are replaced.
// - Anything else (the firm's inbox): the whole element is swapped, as before.
//
// The stream can fail to open (the server refuses a user's streams beyond a few, and a page left a moment ago still
// holds its place until the server notices) or break; the browser's own retry stops on a refusal, so this opens
// it again, later and later. Events sent while it was closed are lost: when it opens again, the whole element is
// fetched again once. The element's data-live-state says where it stands ("connecting", "catching-up", "open",
// "closed"), for styles and tests.
(function () {
  "use strict";

  var root = document.querySelector("[data-live]");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var url = root.getAttribute("data-live");
  var mode = root.getAttribute("data-live-mode") || "page";
  var timer = null;
  var busy = false;
  var again = false;
  // Invoices whose rows wait to be fetched; null in it means "everything" (events were missed).
  var pending = [];
  // Whether the stream was closed since the page was shown (events may have been missed), and whether the
  // refresh that catches up on them is still to finish.
  var missed = false;
  var catching = false;
  var retryDelay = 2000;

  function setState(state) {
    root.setAttribute("data-live-state", state);
  }

  // Someone typing in the element would lose their input: wait until they leave the field.
  function editing(element) {
    var active = document.activeElement;
    return active && element.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  // Swapping content removes the element that had the keyboard focus, which would send a keyboard or screen
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

  // A polite live region outside the swapped content (swapped content is not announced reliably) tells screen
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

  function load(address) {
    return fetch(address, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        return new DOMParser().parseFromString(html, "text/html");
      });
  }

  // Replaces `old` by `fresh` (an element of another document) keeping the focus where it was.
  function replace(old, fresh) {
    var was = focusedIn(old);
    var adopted = document.importNode(fresh, true);
    old.parentNode.replaceChild(adopted, old);
    refocus(adopted, was);
  }

  // The whole element, from the page fetched again (the firm's inbox, or when events were missed).
  function swapPage(current, page) {
    var fresh = page.querySelector("[data-live]");
    if (!fresh || editing(current)) {
      return;
    }
    var was = focusedIn(current);
    var before = headline(current);
    current.innerHTML = fresh.innerHTML;
    refocus(current, was);
    announce(before, headline(current));
  }

  // Only the parts (the element's children) whose content changed; when the page's shape changed, everything.
  function swapParts(current, page) {
    var fresh = page.querySelector("[data-live]");
    if (!fresh) {
      return;
    }
    var before = headline(current);
    var olds = current.children;
    var news = fresh.children;
    if (olds.length !== news.length) {
      swapPage(current, page);
      return;
    }
    var parts = [];
    for (var i = 0; i < olds.length; i++) {
      if (olds[i].outerHTML !== news[i].outerHTML) {
        parts.push([olds[i], news[i]]);
      }
    }
    parts.forEach(function (pair) {
      if (editing(pair[0])) {
        again = true;
      } else {
        replace(pair[0], pair[1]);
      }
    });
    announce(before, headline(current));
  }

  // The rows of the invoices that changed, each from its own address (the row's first cell says which invoice
  // it shows and where to fetch it).
  function swapRows(current, invoices) {
    var work = invoices.map(function (invoice) {
      var cells = current.querySelectorAll("[data-live-row]");
      var cell = null;
      for (var i = 0; i < cells.length; i++) {
        if (cells[i].getAttribute("data-live-row") === invoice) {
          cell = cells[i];
        }
      }
      var row = cell && cell.closest("tr");
      if (!row) {
        // Not on this page: nothing of it is shown.
        return null;
      }
      return load(cell.getAttribute("data-live-src")).then(function (fragment) {
        var fresh = fragment.querySelector("[data-live-row]");
        fresh = fresh && fresh.closest("tr");
        if (fresh && row.parentNode && !editing(row)) {
          replace(row, fresh);
        }
      });
    });
    return Promise.all(work).then(function () {
      return swapChips(current);
    });
  }

  // The chips, from their own address with the list's query; a list without chips (or a refused fetch) keeps
  // what it shows.
  function swapChips(current) {
    var source = current.getAttribute("data-live-chips");
    var old = current.querySelector("nav.chips");
    if (!source || !old) {
      return null;
    }
    return load(source + window.location.search).then(function (fragment) {
      var fresh = fragment.querySelector("nav.chips");
      if (fresh && old.parentNode && old.outerHTML !== fresh.outerHTML) {
        replace(old, fresh);
      }
    });
  }

  function refresh() {
    var current = document.querySelector("[data-live]");
    if (!current) {
      return;
    }
    if (busy || (mode !== "rows" && editing(current))) {
      again = true;
      return;
    }
    busy = true;
    var invoices = pending;
    pending = [];
    var everything = invoices.indexOf(null) >= 0;
    var work;
    if (mode === "rows" && !everything) {
      work = swapRows(current, invoices);
    } else {
      work = load(window.location.href).then(function (page) {
        if (mode === "parts") {
          swapParts(current, page);
        } else {
          swapPage(current, page);
        }
      });
    }
    work
      .catch(function () {
        // A failed refresh is not worth a message: the next event, or a reload, tries again.
      })
      .then(function () {
        busy = false;
        if (everything && catching) {
          catching = false;
          setState("open");
        }
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

  function heard(event) {
    var invoice = null;
    try {
      invoice = JSON.parse(event.data).invoice || null;
    } catch (ignored) {
      invoice = null;
    }
    if (pending.indexOf(invoice) < 0) {
      pending.push(invoice);
    }
    schedule();
  }

  document.addEventListener("focusout", function () {
    if (again && !busy) {
      again = false;
      schedule();
    }
  });

  function connect() {
    setState("connecting");
    var source = new EventSource(url);
    source.addEventListener("open", function () {
      retryDelay = 2000;
      if (missed) {
        missed = false;
        catching = true;
        setState("catching-up");
        if (pending.indexOf(null) < 0) {
          pending.push(null);
        }
        schedule();
      } else {
        setState("open");
      }
    });
    source.addEventListener("invoice", heard);
    source.addEventListener("error", function () {
      missed = true;
      if (source.readyState === EventSource.CLOSED) {
        // Refused or ended for good as far as the browser is concerned: try again later.
        setState("closed");
        window.setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 60000);
      } else {
        setState("connecting");
      }
    });
  }

  connect();
})();
