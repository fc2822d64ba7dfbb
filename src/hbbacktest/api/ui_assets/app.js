/* hbbacktest web UI: the config form generated from a controller's JSON schema, and the
 * pollers of tasks and sweeps. Plain ES2017, no dependencies, no build step; served by the
 * app at /ui/static/app.js. Element ids are listed in hbbacktest/api/routes/ui.py.
 *
 * Schema → form: number/integer → number input; string → text; boolean → checkbox (a
 * nullable one: a yes/no/unset select); enum (with x-enum-names when given) → select; an
 * array of numbers or strings → a comma list ("0.01,0.02"); an object with properties
 * (triple_barrier_config, trailing_stop …) → a fieldset of its fields, with a "set" switch
 * when it may be null; anything else (arrays of objects, unions) → a JSON text field.
 * Values start at the controller's template defaults. An empty optional field sends null;
 * an empty field that cannot be null is left out (the config's default applies).
 */
(function () {
  'use strict';

  var FINISHED = ['completed', 'failed', 'cancelled', 'interrupted'];
  var POLL_MS = 500;
  var FIXED = {controller_name: true, controller_type: true};
  var RUN_FIELDS = {
    start_time: 'start', end_time: 'end', backtesting_resolution: 'resolution',
    trade_cost: 'trade-cost', fill_model: 'fill-model'
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  async function getJSON(url, options) {
    var response = await fetch(url, Object.assign({headers: {Accept: 'application/json'}}, options || {}));
    var data = null;
    try { data = await response.json(); } catch (e) { data = {detail: response.statusText}; }
    return {ok: response.ok, status: response.status, data: data};
  }

  function humanize(name) {
    return name.split('_').map(function (word) {
      return word.charAt(0).toUpperCase() + word.slice(1);
    }).join(' ');
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function detailText(detail) {
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail)) {
      return detail.map(function (item) {
        return (item.loc || []).join('.') + ': ' + item.msg;
      }).join('\n');
    }
    return JSON.stringify(detail);
  }

  /* ------------------------------------------------------------------------------------
   * Schema helpers */

  function resolve(root, node) {
    var seen = 0;
    while (node && node.$ref && seen < 20) {
      var name = node.$ref.split('/').pop();
      var target = (root.$defs || root.definitions || {})[name] || {};
      var merged = Object.assign({}, target, node);
      delete merged.$ref;
      node = merged;
      seen += 1;
    }
    return node || {};
  }

  // {node, nullable}: a single schema for the field, its "null" alternative taken out.
  function unwrap(root, node) {
    node = resolve(root, node);
    var nullable = false;
    var options = node.anyOf || node.oneOf;
    if (options) {
      var rest = options.filter(function (option) { return option.type !== 'null'; });
      nullable = rest.length < options.length;
      if (rest.length === 1) {
        var inner = resolve(root, rest[0]);
        var outer = Object.assign({}, node);
        delete outer.anyOf; delete outer.oneOf;
        node = Object.assign({}, inner, outer);
      }
    }
    if (Array.isArray(node.type)) {
      var types = node.type.filter(function (type) { return type !== 'null'; });
      nullable = nullable || types.length < node.type.length;
      node = Object.assign({}, node, {type: types.length === 1 ? types[0] : types});
    }
    return {node: node, nullable: nullable};
  }

  function kindOf(root, node) {
    if (node.anyOf || node.oneOf || Array.isArray(node.type)) return 'json';
    if (Array.isArray(node.enum)) return 'enum';
    if (node.type === 'boolean') return 'boolean';
    if (node.type === 'integer' || node.type === 'number') return node.type;
    if (node.type === 'string') return 'string';
    if (node.type === 'array' && node.items) {
      var items = unwrap(root, node.items);
      var type = items.node.type;
      if (!items.nullable && !items.node.enum &&
          (type === 'number' || type === 'integer' || type === 'string')) return 'list';
      return 'json';
    }
    if (node.type === 'object' && node.properties) return 'object';
    return 'json';
  }

  /* ------------------------------------------------------------------------------------
   * The form */

  function ConfigForm(container) {
    this.container = container;
    this.fields = [];   // {path, kind, nullable, input, box, errorNode, ...}
    this.objects = [];  // nullable nested objects: {path, toggle}
  }

  ConfigForm.prototype.build = function (schema, template, overrides) {
    this.fields = []; this.objects = [];
    this.container.textContent = '';
    var root = schema;
    var required = schema.required || [];
    var self = this;
    Object.keys(schema.properties || {}).forEach(function (name) {
      if (FIXED[name]) return;
      var entry = template[name] || {};
      var value = Object.prototype.hasOwnProperty.call(overrides, name) ? overrides[name]
        : ('default' in entry ? entry.default : schema.properties[name].default);
      self.add(self.container, root, [name], schema.properties[name], value,
        required.indexOf(name) >= 0, entry.description);
    });
  };

  ConfigForm.prototype.add = function (parent, root, path, raw, value, required, description) {
    var unwrapped = unwrap(root, raw);
    var node = unwrapped.node;
    var nullable = unwrapped.nullable;
    var kind = kindOf(root, node);
    var id = 'cfg-' + path.join('__');
    var name = path.join('.');
    // The field's own title: a $ref'd type's title names the type (OrderType), not the field.
    var label = raw.title || humanize(path[path.length - 1]);
    var hint = description || node.description || raw.description || '';
    if (kind === 'object') return this.addObject(parent, root, path, node, value, nullable, label, hint);

    var input;
    if (kind === 'enum') {
      var names = node['x-enum-names'];
      input = el('select', {id: id, name: name});
      if (nullable || value === null || value === undefined) input.appendChild(el('option', {value: '', text: '(none)'}));
      node.enum.forEach(function (option, i) {
        var shown = names ? names[i] : String(option);
        var code = names ? names[i] : JSON.stringify(option);
        var selected = value === option || (names && value === names[i]);
        input.appendChild(el('option', {value: code, text: shown, selected: selected}));
      });
    } else if (kind === 'boolean' && !nullable) {
      input = el('input', {id: id, name: name, type: 'checkbox', checked: value === true});
    } else if (kind === 'boolean') {
      input = el('select', {id: id, name: name});
      [['', '(none)'], ['true', 'yes'], ['false', 'no']].forEach(function (pair) {
        input.appendChild(el('option', {value: pair[0], text: pair[1],
          selected: String(value === null || value === undefined ? '' : value) === pair[0]}));
      });
    } else if (kind === 'number' || kind === 'integer') {
      var min = node.minimum !== undefined ? node.minimum : node.exclusiveMinimum;
      var max = node.maximum !== undefined ? node.maximum : node.exclusiveMaximum;
      input = el('input', {id: id, name: name, type: 'number', step: kind === 'integer' ? '1' : 'any',
        min: min, max: max, value: value === null || value === undefined ? '' : value,
        placeholder: nullable ? '(none)' : ''});
    } else if (kind === 'list') {
      var shownList = Array.isArray(value) ? value.join(',') : (value === null || value === undefined ? '' : String(value));
      input = el('input', {id: id, name: name, type: 'text', value: shownList,
        placeholder: 'comma list, e.g. 0.01,0.02'});
    } else if (kind === 'string') {
      input = el('input', {id: id, name: name, type: 'text', maxlength: node.maxLength,
        value: value === null || value === undefined ? '' : value, placeholder: nullable ? '(none)' : ''});
    } else {
      input = el('textarea', {id: id, name: name, rows: 2, spellcheck: 'false',
        placeholder: 'JSON'});
      input.value = value === undefined || (value === null && !nullable) ? '' : JSON.stringify(value);
    }
    if (required && kind !== 'boolean') input.required = true;
    input.dataset.kind = kind;
    var errorNode = el('div', {className: 'field-error'});
    var box = el('div', {className: 'field', 'data-path': name}, [
      el('label', {for: id, text: label, className: required ? 'required' : null}),
      input,
      hint ? el('div', {className: 'hint', text: hint}) : null,
      errorNode
    ]);
    parent.appendChild(box);
    this.fields.push({path: path, name: name, kind: kind, nullable: nullable, input: input,
      box: box, errorNode: errorNode, named: kind === 'enum' && Array.isArray(node['x-enum-names']),
      itemType: kind === 'list' ? unwrap(root, node.items).node.type : null});
    return box;
  };

  ConfigForm.prototype.addObject = function (parent, root, path, node, value, nullable, label, hint) {
    var id = 'cfg-' + path.join('__');
    var legend = el('legend', {text: label});
    var toggle = null;
    if (nullable) {
      toggle = el('input', {id: id + '-set', type: 'checkbox', checked: value !== null && value !== undefined});
      legend = el('legend', {}, [toggle, el('label', {for: id + '-set', text: ' ' + label})]);
    }
    var set = el('fieldset', {id: id, 'data-path': path.join('.')}, [legend]);
    if (hint) set.appendChild(el('div', {className: 'hint', text: hint}));
    var own = value && typeof value === 'object' ? value : {};
    var required = node.required || [];
    var self = this;
    Object.keys(node.properties).forEach(function (key) {
      var sub = node.properties[key];
      var subValue = Object.prototype.hasOwnProperty.call(own, key) ? own[key] : resolve(root, sub).default;
      self.add(set, root, path.concat([key]), sub, subValue, required.indexOf(key) >= 0, null);
    });
    if (toggle) {
      // A disabled fieldset leaves the controls of its first legend enabled: the switch.
      var sync = function () { set.disabled = !toggle.checked; };
      toggle.addEventListener('change', sync);
      sync();
      this.objects.push({path: path, toggle: toggle});
    }
    parent.appendChild(set);
    return set;
  };

  function parseList(text, itemType) {
    return text.split(',').map(function (part) { return part.trim(); })
      .filter(function (part) { return part !== ''; })
      .map(function (part) {
        if (itemType === 'string') return part;
        var number = Number(part);
        return isNaN(number) ? part : number;  // the server names the bad item
      });
  }

  // The config object; throws {path, message} for a field the browser cannot read (bad JSON).
  ConfigForm.prototype.collect = function () {
    var out = {};
    var nulled = {};
    this.objects.forEach(function (object) {
      if (!object.toggle.checked) nulled[object.path.join('.')] = true;
    });
    function put(path, value) {
      var target = out;
      for (var i = 0; i < path.length - 1; i++) {
        if (typeof target[path[i]] !== 'object' || target[path[i]] === null) target[path[i]] = {};
        target = target[path[i]];
      }
      target[path[path.length - 1]] = value;
    }
    Object.keys(nulled).forEach(function (name) { put(name.split('.'), null); });
    this.fields.forEach(function (field) {
      for (var i = 1; i < field.path.length; i++) {
        if (nulled[field.path.slice(0, i).join('.')]) return;
      }
      var input = field.input;
      var raw = input.type === 'checkbox' ? null : input.value;
      var value;
      if (field.kind === 'boolean' && input.type === 'checkbox') value = input.checked;
      else if (raw.trim() === '') {
        if (!field.nullable) return;  // the config's default applies
        value = null;
      } else if (field.kind === 'boolean') value = raw === 'true';
      else if (field.kind === 'number' || field.kind === 'integer') {
        value = Number(raw);
        if (isNaN(value)) value = raw;
      } else if (field.kind === 'list') value = parseList(raw, field.itemType);
      else if (field.kind === 'enum') value = field.named ? raw : JSON.parse(raw);
      else if (field.kind === 'string') value = raw;
      else {
        try { value = JSON.parse(raw); } catch (e) {
          throw {path: field.name, message: 'not valid JSON: ' + e.message};
        }
      }
      put(field.path, value);
    });
    return out;
  };

  ConfigForm.prototype.clearErrors = function () {
    this.fields.forEach(function (field) {
      field.errorNode.textContent = '';
      field.box.classList.remove('invalid');
    });
  };

  // The field a dotted error path belongs to (the longest match: buy_spreads.0 → buy_spreads).
  ConfigForm.prototype.fieldFor = function (path) {
    var best = null;
    this.fields.forEach(function (field) {
      if ((path === field.name || path.indexOf(field.name + '.') === 0) &&
          (!best || field.name.length > best.name.length)) best = field;
    });
    return best;
  };

  ConfigForm.prototype.markError = function (path, message) {
    var field = this.fieldFor(path) || this.fieldFor(path.replace(/^config\./, ''));
    if (!field) return false;
    field.box.classList.add('invalid');
    field.errorNode.textContent += (field.errorNode.textContent ? '\n' : '') + message;
    return true;
  };

  function markRunField(name, message) {
    var id = RUN_FIELDS[name];
    var input = id && document.getElementById(id);
    if (!input) return;
    var box = input.closest('.field');
    var node = box.querySelector('.field-error') || box.appendChild(el('div', {className: 'field-error'}));
    box.classList.add('invalid');
    node.textContent = message;
  }

  // Put a 422's problems next to their fields; the whole message goes into #form-errors.
  function showProblems(form, detail) {
    if (Array.isArray(detail)) {
      detail.forEach(function (item) {
        var loc = (item.loc || []).filter(function (part) { return part !== 'body'; });
        if (loc[0] === 'config' && loc.length > 1) form.markError(loc.slice(1).join('.'), item.msg);
        else if (loc.length) markRunField(loc[0], item.msg);
      });
      return;
    }
    if (typeof detail !== 'string') return;
    // ConfigError: one "  - path = value: message" (or "  - path: message") line per problem.
    detail.split('\n').forEach(function (line) {
      var match = /^\s*-\s+([A-Za-z_][\w]*(?:\.[\w]+)*)(.*)$/.exec(line);
      if (!match) return;
      var rest = match[2].replace(/^\s*=\s*/, '');
      form.markError(match[1], (rest.charAt(0) === ':' ? rest.slice(1) : rest).trim() || line.trim());
    });
  }

  function utcSeconds(day) {
    var ms = Date.parse(day + 'T00:00:00Z');
    return isNaN(ms) ? day : Math.round(ms / 1000);
  }

  function setStatus(node, status, text) {
    node.dataset.status = status;
    node.className = status ? 'status-' + status : '';
    node.textContent = text;
  }

  // Poll a task until it ends; resolves with its last status document.
  async function pollTask(taskId, node) {
    for (;;) {
      var answer = await getJSON('/ui/tasks/' + encodeURIComponent(taskId) + '/status');
      if (!answer.ok) {
        setStatus(node, 'failed', detailText(answer.data && answer.data.detail));
        return {status: 'failed', error: detailText(answer.data && answer.data.detail)};
      }
      var task = answer.data;
      var seconds = task.elapsed_s !== null && task.elapsed_s !== undefined ? ' (' + task.elapsed_s.toFixed(1) + ' s)' : '';
      var text = task.status === 'pending' ? 'queued' + seconds
        : task.status === 'running' ? 'running' + seconds
        : task.status + (task.error ? ': ' + task.error : '');
      setStatus(node, task.status, text);
      if (FINISHED.indexOf(task.status) >= 0) return task;
      await sleep(POLL_MS);
    }
  }

  function resultHref(runId) { return '/ui/results/' + encodeURIComponent(runId); }

  async function initForm(formNode) {
    var select = document.getElementById('controller');
    var fields = document.getElementById('config-fields');
    var errors = document.getElementById('form-errors');
    var status = document.getElementById('task-status');
    var submit = document.getElementById('submit');
    var overrides = JSON.parse(formNode.dataset.defaults || '{}');
    var form = new ConfigForm(fields);
    var current = null;

    async function load() {
      var parts = select.value.split('/');
      var base = '/controllers/' + encodeURIComponent(parts[0]) + '/' + encodeURIComponent(parts.slice(1).join('/')) + '/config/';
      submit.disabled = true;
      fields.textContent = 'Loading the controller\'s config…';
      var answers = await Promise.all([getJSON(base + 'schema'), getJSON(base + 'template')]);
      if (!answers[0].ok || !answers[1].ok) {
        var failed = answers[0].ok ? answers[1] : answers[0];
        fields.textContent = '';
        errors.textContent = detailText(failed.data && failed.data.detail);
        return;
      }
      errors.textContent = '';
      form.build(answers[0].data, answers[1].data, overrides);
      current = {type: parts[0], name: parts.slice(1).join('/')};
      submit.disabled = false;
      formNode.dataset.ready = select.value;
    }

    select.addEventListener('change', function () { load(); });
    formNode.addEventListener('submit', async function (event) {
      event.preventDefault();
      if (!current) return;
      form.clearErrors();
      formNode.querySelectorAll('.field.invalid').forEach(function (box) { box.classList.remove('invalid'); });
      errors.textContent = '';
      var config;
      try { config = form.collect(); } catch (problem) {
        form.markError(problem.path, problem.message);
        errors.textContent = problem.path + ': ' + problem.message;
        return;
      }
      config.controller_name = current.name;
      config.controller_type = current.type;
      var body = {
        start_time: utcSeconds(document.getElementById('start').value),
        end_time: utcSeconds(document.getElementById('end').value),
        backtesting_resolution: document.getElementById('resolution').value.trim(),
        trade_cost: Number(document.getElementById('trade-cost').value),
        fill_model: document.getElementById('fill-model').value,
        config: config
      };
      submit.disabled = true;
      setStatus(status, 'submitting', 'submitting…');
      var answer = await getJSON('/backtesting/tasks', {
        method: 'POST',
        headers: {'Content-Type': 'application/json', Accept: 'application/json'},
        body: JSON.stringify(body)
      });
      if (!answer.ok) {
        var detail = answer.data && answer.data.detail;
        showProblems(form, detail);
        errors.textContent = answer.status + ': ' + detailText(detail);
        setStatus(status, 'rejected', '');
        submit.disabled = false;
        var bad = formNode.querySelector('.field.invalid');
        if (bad) bad.scrollIntoView({block: 'center'});
        return;
      }
      var taskId = answer.data.task_id;
      status.dataset.taskId = taskId;
      var task = await pollTask(taskId, status);
      if (task.status === 'completed' && task.run_id) {
        setStatus(status, 'completed', 'completed: opening the report…');
        window.location.href = resultHref(task.run_id);
        return;
      }
      errors.textContent = task.error || ('the task ended ' + task.status);
      status.appendChild(document.createTextNode(' '));
      status.appendChild(el('a', {href: '/ui/tasks/' + encodeURIComponent(taskId), text: 'task page'}));
      submit.disabled = false;
    });
    await load();
  }

  async function initTaskPage(node) {
    var cancel = document.getElementById('cancel');
    var taskId = node.dataset.taskId;
    if (cancel) {
      cancel.addEventListener('click', async function () {
        cancel.disabled = true;
        await getJSON('/backtesting/tasks/' + encodeURIComponent(taskId), {method: 'DELETE'});
      });
    }
    if (FINISHED.indexOf(node.dataset.status) >= 0) return;
    var task = await pollTask(taskId, node);
    if (cancel) cancel.remove();
    if (task.status === 'completed' && task.run_id) window.location.href = resultHref(task.run_id);
    else window.location.reload();  // shows the error and the finished times
  }

  // The dashboard: poll each pending or running task; reload when one ends.
  function initDashboard(table) {
    var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.textContent.trim(); });
    var idCol = heads.indexOf('task');
    var statusCol = heads.indexOf('status');
    var active = Array.prototype.filter.call(table.tBodies[0].rows, function (row) {
      var status = row.cells[statusCol].textContent.trim();
      row.cells[statusCol].className = 'text status-' + status;
      return status === 'pending' || status === 'running';
    }).slice(0, 20);
    if (!active.length) return;
    var ids = active.map(function (row) { return row.cells[idCol].textContent.trim(); });
    async function tick() {
      for (var i = 0; i < ids.length; i++) {
        var answer = await getJSON('/ui/tasks/' + encodeURIComponent(ids[i]) + '/status');
        var status = answer.ok ? answer.data.status : 'deleted';
        var cell = active[i].cells[statusCol];
        if (cell.textContent.trim() !== status) {
          cell.textContent = status;
          cell.className = 'text status-' + status;
        }
        if (FINISHED.indexOf(status) >= 0 || !answer.ok) { window.location.reload(); return; }
      }
      setTimeout(tick, 1500);
    }
    setTimeout(tick, 1000);
  }

  function initReload(node) {
    var seconds = Number(node.dataset.reloadS);
    if (seconds > 0) setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var formNode = document.getElementById('new-backtest');
    if (formNode) initForm(formNode);
    var status = document.getElementById('task-status');
    if (status && status.dataset.taskId && !formNode) initTaskPage(status);
    var tasks = document.getElementById('tasks');
    if (tasks && tasks.tHead) initDashboard(tasks);
    document.querySelectorAll('[data-reload-s]').forEach(initReload);
  });

  // For tests and the console: the form generator on its own.
  window.hbbacktestUI = {ConfigForm: ConfigForm, unwrap: unwrap, kindOf: kindOf};
})();
