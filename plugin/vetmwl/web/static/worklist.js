// The worklist page of the SqlWorklist plugin: the worklist a modality would see, the steps the
// modalities performed (MPPS, arrived studies; refreshed with the worklist), the recent C-FIND
// queries (refreshed every few seconds) and the plugin's health. Everything comes from the plugin's
// REST routes next to this page (../worklist, ../steps, ../queries, ../health). Values from the
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

  // -- performed steps --------------------------------------------------------------------------
  // The status as a class name: 'IN PROGRESS' -> 'in-progress'.
  function statusClass(status) {
    return (status || 'unknown').toLowerCase().replace(/[^a-z0-9]+/g, '-');
  }

  // A DICOM date-time as the modality wrote it (its local time): [time, date] read off the ISO form
  // the plugin gives, not converted to this browser's time zone (no time for a date alone); the
  // stored text when unreadable.
  function dicomMoment(text, iso) {
    if (iso) {
      return [iso.length > 11 && iso.substr(11, 8) !== '00:00:00' ? iso.substr(11, 5) : '', iso.substr(0, 10)];
    }
    return [text || '', ''];
  }

  // An instant of the store (UTC) in this browser's time.
  function localMoment(iso) {
    var when = new Date(iso);
    if (isNaN(when)) {
      return [iso || '', ''];
    }
    return [pad(when.getHours()) + ':' + pad(when.getMinutes()) + ':' + pad(when.getSeconds()),
            when.toLocaleDateString()];
  }

  function referenceText(r) {
    return joined([r.ScheduledProcedureStepID ? 'SPS ' + r.ScheduledProcedureStepID : '',
                   r.AccessionNumber ? 'Acc ' + r.AccessionNumber : '',
                   r.ScheduledProcedureStepID || r.AccessionNumber ? '' :
                     (r.StudyInstanceUID ? 'Study ' + r.StudyInstanceUID : '')], ' / ');
  }

  function arrivedText(step) {
    if (step.series === null && step.instances === null) {
      return '';
    }
    var series = step.series === null ? '?' : step.series;
    var instances = step.instances === null ? '?' : step.instances;
    return series + ' series, ' + instances + (step.instances === 1 ? ' instance' : ' instances');
  }

  function historyCell(step, open) {
    var details = $('<details>').addClass('vetmwl-history');
    if (open) {
      details.attr('open', 'open');
    }
    details.append($('<summary>').text(step.events.length + (step.events.length === 1 ? ' event' : ' events')));
    var list = $('<ol>');
    $.each(step.events, function(i, e) {
      var when = localMoment(e.time);
      list.append($('<li>').addClass('vetmwl-event')
        .append($('<span>').addClass('vetmwl-event-time').text(joined([when[1], when[0]], ' ')))
        .append(' ')
        .append($('<span>').addClass('vetmwl-badge vetmwl-step-' + statusClass(e.status)).text(e.status))
        .append(' ')
        .append($('<span>').addClass('vetmwl-event-what')
          .text(joined([e.event, e.calling_aet ? 'from ' + e.calling_aet : ''], ' ')))
        .append(e.detail ? $('<span>').addClass('vetmwl-detail').text(e.detail) : ''));
    });
    details.append(list);
    details.append($('<p>').addClass('vetmwl-detail').text(joined([
      'UID ' + step.uid,
      step.recorded_by ? 'recorded by ' + step.recorded_by : '',
      $.map(step.references, function(r) { return r.StudyInstanceUID ? 'Study ' + r.StudyInstanceUID : null; })
        .join(', ')
    ], ' \u00b7 ')));
    return $('<td>').attr('data-label', 'History').addClass('vetmwl-wide').append(details);
  }

  function renderSteps(data) {
    var body = $('#steps-table tbody');
    var open = {};
    body.find('tr[data-uid]').each(function() {
      if ($(this).find('details').prop('open')) {
        open[$(this).attr('data-uid')] = true;
      }
    });
    body.empty();
    if (!data.enabled) {
      $('#steps-count').text('off');
      $('#steps-table').hide();
      var note = data.note || '';
      $('#steps-note').text(note.charAt(0).toUpperCase() + note.substr(1) + '.');
      return;
    }
    $.each(data.steps, function(i, step) {
      var started = dicomMoment(step.started, step.started_iso);
      var ended = dicomMoment(step.ended, step.ended_iso);
      var station = step.station_aet || step.calling_aet;
      var from = joined([step.calling_aet && step.calling_aet !== station ? 'from ' + step.calling_aet : '',
                         step.calling_address], ' ');
      var scheduled = $.map(step.references, function(r) { return referenceText(r) || null; });
      var row = $('<tr>').attr({ 'data-uid': step.uid, 'data-status': step.status })
        .addClass('vetmwl-step-row-' + statusClass(step.status));
      row.append(cell('Started', started[0], started[1]).addClass('vetmwl-start'));
      row.append($('<td>').attr('data-label', 'Status').append(
        $('<span>').addClass('vetmwl-main vetmwl-badge vetmwl-step-' + statusClass(step.status)).text(step.status)));
      row.append(cell('Kind', step.kind === 'STUDY' ? 'study arrived' : step.kind));
      row.append(cell('Station', station, from).addClass('vetmwl-aet'));
      row.append(cell('Modality', step.modality));
      row.append(cell('Ended', ended[0], ended[1]).toggleClass('vetmwl-empty', !step.ended));
      row.append(cell('Scheduled', scheduled.length ? scheduled.join('; ') : 'unscheduled', step.description)
                 .addClass('vetmwl-wide'));
      var arrivedCell = cell('Arrived', arrivedText(step)).toggleClass('vetmwl-empty', !arrivedText(step));
      if (step.orthanc_study) {
        arrivedCell.removeClass('vetmwl-empty').append($('<a>').addClass('vetmwl-detail')
          .attr({ href: '../../app/explorer.html#study?uuid=' + encodeURIComponent(step.orthanc_study),
                  'data-ajax': 'false' })
          .text('open in Explorer'));
      }
      row.append(arrivedCell);
      row.append(historyCell(step, open[step.uid]));
      body.append(row);
    });
    $('#steps-count').text(data.count);
    $('#steps-table').toggle(data.count > 0);
    $('#steps-note').text(data.count
      ? 'Newest first: the ' + data.count + ' that changed last, from MPPS messages and studies that arrived.'
      : 'No performed step recorded yet.');
  }

  function loadSteps() {
    return $.ajax({ url: '../steps', data: { limit: 100 }, dataType: 'json', cache: false })
      .done(function(data) {
        showError('steps-error', '');
        renderSteps(data);
      })
      .fail(function(xhr) {
        $('#steps-table tbody').empty();
        $('#steps-table').hide();
        $('#steps-count').text('!');
        $('#steps-note').text('');
        showError('steps-error', failureText(xhr));
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
  function progressText(progress) {
    if (!progress || !progress.enabled) {
      return 'not recorded (SqlWorklist.Mpps.Enable, SqlWorklist.StudyArrival.Event)';
    }
    return progress.reachable
      ? 'recorded; the state store answers (probe ' + progress.probe_ms + ' ms)'
      : 'the state store does not answer: ' + progress.error;
  }

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
      ['Performed steps', progressText(data.progress)],
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
      loadSteps();
    });
    $('#refresh-all').on('click', function(event) {
      event.preventDefault();
      loadHealth();
      loadWorklist();
      loadSteps();
      loadQueries();
    });
    loadOrthancName();
    loadHealth();
    loadWorklist();
    loadSteps();
    loadQueries();
    setInterval(function() {
      if ($('#queries-auto').is(':checked')) {
        loadQueries();
      }
    }, QUERY_REFRESH_MS);
    setInterval(loadHealth, HEALTH_REFRESH_MS);
  }

  return { start: start, failureText: failureText, renderSteps: renderSteps, loadSteps: loadSteps };
}());

$('#sql-worklist').live('pageinit', VetMwl.start);
