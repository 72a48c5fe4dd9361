"""Evaluation: correlation and error metrics with bootstrap CIs (``metrics``), reports
against a dataset's labels with plots (``report``)."""
