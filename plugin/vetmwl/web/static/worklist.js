// The worklist page of the SqlWorklist plugin: the worklist a modality would see, the recent
// C-FIND queries (refreshed every few seconds) and the plugin's health. Everything comes from the
// plugin's REST routes next to this page (../worklist, ../queries, ../health). Values from the
// database and from the network are always inserted as text, never as HTML.

var VetMwl = (function() {
  'use strict';

  var QUERY_REFRESH_MS = 5000;
  var HEALTH_REFRESH_MS = 30000;
  var SHORT_KEYS = {
    ScheduledProcedureStepStartDate: 'SPS Start Date',
    ScheduledProcedureStepStartTime: 'SPS Start Time',
    ScheduledProcedureStepStartDateTime: 'SPS Start',
    ScheduledStationAETitle: 'Station AE',
    ScheduledProcedureStepID: 'SPS ID',
    ScheduledProcedureStepDescription: 'SPS Description',
    ScheduledPerformingPhysicianName: 'Performing Physician'
  };
  var lastSeq = 0;
  var wasHealthy = true;

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  function todayDicom() {
    var d = new Date();
    return '' + d.getFullYear() + pad(d.getMonth() + 1) + pad(d.getDate());
  }

  function dicomToInputDate(value) {
    return /^\d{8}$/.test(value) ? value.substr(0, 4) + '-' + value.substr(4, 2) + '-' + value.substr(6, 2) : '';
  }

  function formatDate(value) {
    return dicomToInputDate(value) || value || '';
  }

  function formatTime(value) {
    return /^\d{4}/.test(value || '') ? value.substr(0, 2) + ':' + value.substr(2, 2) : (value || '');
  }

  // The plain text of a failed request: the plugin's own error text when it gave one.
  function failureText(xhr) {
    if (!xhr || xhr.status === 0) {
      return 'Orthanc did not answer: is it running, and can this browser reach it?';
    }
    var text = xhr.responseText || '';
    try {
      var data = JSON.parse(text);
      if (data && data.error) {
        return data.error;
      }
      if (data && data.problems && data.problems.length) {
        return data.problems.join('\n');
      }
    } catch (ignored) {
      // not JSON: show it as it came
    }
    return 'HTTP ' + xhr.status + ' ' + (xhr.statusText || '') + (text ? ': ' + text : '');
  }

  function showError(id, text) {
    var box = $('#' + id);
    if (text) {
      box.find('pre').text(text);
      box.removeAttr('hidden').show();
    } else {
      box.attr('hidden', 'hidden').hide();
    }
  }

  function cell(label, main, detail) {
    var td = $('<td>').attr('data-label', label);
    td.append($('<span>').addClass('vetmwl-main').text(main || ''));
    if (detail) {
      td.append($('<span>').addClass('vetmwl-detail').text(detail));
    }
    return td;
  }

  function joined(parts, separator) {
    return $.grep(parts, function(p) { return p; }).join(separator);
  }

  // -- worklist ---------------------------------------------------------------------------------
  function worklistParams() {
    var date = $('#worklist-date').val() || '';
    return {
      date: date.replace(/-/g, ''),
      station: $.trim($('#worklist-station').val() || '').toUpperCase(),
      modality: $('#worklist-modality').val() || ''
    };
  }

  function renderWorklist(data) {
    var body = $('#worklist-table tbody').empty();
    $.each(data.items, function(i, item) {
      var row = $('<tr>');
      row.append(cell('Start', formatTime(item.ScheduledProcedureStepStartTime),
                      formatDate(item.ScheduledProcedureStepStartDate)).addClass('vetmwl-start'));
      row.append(cell('Patient', item.PatientName,
                      joined([item.PatientSex, formatDate(item.PatientBirthDate)], ', '))
                 .addClass('vetmwl-name vetmwl-wide'));
      row.append(cell('Patient ID', item.PatientID));
      row.append(cell('Species', joined([item.PatientSpeciesDescription, item.PatientBreedDescription], ', '),
                      item.PatientWeight ? item.PatientWeight + ' kg' : '').addClass('vetmwl-wide'));
      row.append(cell('Procedure', item.ScheduledProcedureStepDescription || item.RequestedProcedureDescription,
                      item.ScheduledProcedureStepID ? 'SPS ' + item.ScheduledProcedureStepID : '')
                 .addClass('vetmwl-wide'));
      row.append(cell('Modality', item.Modality));
      row.append(cell('Station', item.ScheduledStationAETitle));
      row.append(cell('Accession', item.AccessionNumber));
      body.append(row);
    });
    $('#worklist-count').text(data.count);
    var where = joined([data.date ? 'date ' + formatDate(data.date) : 'any date',
                        data.station ? 'station ' + data.station : '',
                        data.modality ? 'modality ' + data.modality : ''], ', ');
    var note = data.count + (data.count === 1 ? ' item' : ' items') + ' for ' + where +
      ' (SQL ' + data.sql_ms + ' ms, total ' + data.total_ms + ' ms)';
    if (data.incomplete) {
      note += '. Cut at SqlWorklist.LimitAnswers: a modality gets only these, marked incomplete.';
    }
    if (data.ignored_keys.length) {
      note += '. The view has no column for ' + data.ignored_keys.join(', ') + ': not matched.';
    }
    $('#worklist-note').text(note);
    $('#worklist-table').toggle(data.count > 0);
  }

  function loadWorklist() {
    $('#worklist-submit').closest('.ui-btn').addClass('ui-disabled');
    return $.ajax({ url: '../worklist', data: worklistParams(), dataType: 'json', cache: false })
      .done(function(data) {
        showError('worklist-error', '');
        renderWorklist(data);
      })
      .fail(function(xhr) {
        $('#worklist-table tbody').empty();
        $('#worklist-table').hide();
        $('#worklist-count').text('!');
        $('#worklist-note').text('');
        showError('worklist-error', failureText(xhr));
      })
      .always(function() {
        $('#worklist-submit').closest('.ui-btn').removeClass('ui-disabled');
      });
  }

  // -- query log --------------------------------------------------------------------------------
  function keysText(keys) {
    var parts = [];
    $.each(keys, function(keyword, value) {
      parts.push((SHORT_KEYS[keyword] || keyword) + '=' + value);
    });
    return parts.length ? parts.join(', ') : '(none: everything)';
  }

  function renderQueries(data) {
    var body = $('#queries-table tbody').empty();
    var newest = lastSeq;
    $.each(data.queries, function(i, q) {
      var when = new Date(q.time);
      var row = $('<tr>').addClass('vetmwl-status-' + q.status).attr('data-seq', q.seq);
      if (lastSeq && q.seq > lastSeq) {
        row.addClass('vetmwl-new');
      }
      newest = Math.max(newest, q.seq);
      row.append(cell('Time', isNaN(when) ? q.time : pad(when.getHours()) + ':' + pad(when.getMinutes()) + ':' +
                      pad(when.getSeconds()), isNaN(when) ? '' : when.toLocaleDateString()).addClass('vetmwl-start'));
      row.append(cell('Calling AE', q.calling_aet, q.calling_address || '').addClass('vetmwl-aet'));
      row.append(cell('Called AE', q.called_aet));
      row.append(cell('Keys', keysText(q.keys)).addClass('vetmwl-wide')
                 .attr('title', 'Also requested: ' + q.requested.join(', ')));
      row.append(cell('Answers', q.answers + (q.incomplete ? ' (cut)' : '')));
      row.append(cell('ms', q.ms));
      row.append($('<td>').attr('data-label', 'Status')
        .append($('<span>').addClass('vetmwl-badge vetmwl-badge-' + q.status).text(q.status)));
      body.append(row);
      if (q.error) {
        body.append($('<tr>').addClass('vetmwl-error-row vetmwl-status-' + q.status)
          .append($('<td>').attr('colspan', 7).append($('<pre>').text(q.error))));
      }
    });
    lastSeq = newest;
    $('#queries-count').text(data.total);
    $('#queries-table').toggle(data.queries.length > 0);
    $('#queries-note').text(
      (data.queries.length ? '' : 'No C-FIND since Orthanc started. ') +
      'Newest first; the last ' + data.capacity + ' are kept in memory. The calling address is not shown: ' +
      data.calling_address + '.');
  }

  function loadQueries() {
    return $.ajax({ url: '../queries', data: { limit: 100 }, dataType: 'json', cache: false })
      .done(function(data) {
        showError('queries-error', '');
        renderQueries(data);
      })
      .fail(function(xhr) {
        showError('queries-error', failureText(xhr));
      });
  }

  // -- health -----------------------------------------------------------------------------------
  function renderHealth(data) {
    var ok = data.status === 'ok';
    var db = data.database || {};
    var banner = $('#health').removeClass('ui-bar-c ui-bar-e vetmwl-ok vetmwl-degraded')
      .addClass(ok ? 'ui-bar-c vetmwl-ok' : 'ui-bar-e vetmwl-degraded');
    var text = ok
      ? 'Database reachable (probe ' + db.probe_ms + ' ms)'
      : 'Degraded: ' + data.problems.join('; ');
    text += ' \u00b7 plugin ' + data.plugin.version + ' \u00b7 Orthanc ' + data.orthanc.version;
    banner.find('#health-text').text(text);
    showError('health-error', ok ? '' : data.problems.join('\n'));
    if (wasHealthy && !ok) {
      $('#health-section').trigger('expand');
    }
    wasHealthy = ok;

    var rows = [
      ['Status', data.status],
      ['Database reachable', db.reachable ? 'yes' : 'no'],
      ['Probe query', db.probe_ms === null ? '' : db.probe_ms + ' ms'],
      ['Plugin version', data.plugin.version],
      ['Orthanc version', data.orthanc.version],
      ['C-FIND queries since start', data.queries.total],
      ['Calling address', data.calling_address]
    ];
    $.each(data.configuration || {}, function(key, value) {
      rows.push([key, String(value)]);
    });
    var body = $('#health-table tbody').empty();
    $.each(rows, function(i, pair) {
      body.append($('<tr>').append($('<th>').text(pair[0])).append($('<td>').text(pair[1])));
    });
  }

  function loadHealth() {
    return $.ajax({ url: '../health', dataType: 'json', cache: false })
      .done(renderHealth)
      .fail(function(xhr) {
        // 503 still carries the JSON report: show it like any other.
        var data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (ignored) {
          data = null;
        }
        if (data && data.status) {
          renderHealth(data);
        } else {
          $('#health').removeClass('ui-bar-c vetmwl-ok').addClass('ui-bar-e vetmwl-degraded')
            .find('#health-text').text('Health unknown: ' + failureText(xhr));
        }
      });
  }

  function loadOrthancName() {
    $.ajax({ url: '../../system', dataType: 'json', cache: false }).done(function(s) {
      if (s.Name) {
        $('.orthanc-name').empty().append(
          $('<a>').addClass('ui-link').attr({ href: '../../app/explorer.html', 'data-ajax': 'false' }).text(s.Name)
        ).append(' &raquo; ');
      }
    });
  }

  function start() {
    $('#worklist-date').val(dicomToInputDate(todayDicom()));
    $('#worklist-form').on('submit', function(event) {
      event.preventDefault();
      loadWorklist();
    });
    $('#refresh-all').on('click', function(event) {
      event.preventDefault();
      loadHealth();
      loadWorklist();
      loadQueries();
    });
    loadOrthancName();
    loadHealth();
    loadWorklist();
    loadQueries();
    setInterval(function() {
      if ($('#queries-auto').is(':checked')) {
        loadQueries();
      }
    }, QUERY_REFRESH_MS);
    setInterval(loadHealth, HEALTH_REFRESH_MS);
  }

  return { start: start, failureText: failureText };
}());

$('#sql-worklist').live('pageinit', VetMwl.start);
