"""Tests of the generated Salesforce package (opencx_salesforce.apex)."""
