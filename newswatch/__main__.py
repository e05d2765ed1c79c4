from newswatch.cli_entry import main

main()
